/**
 * Scopes and roles. A principal's `scope` claim (or an API key's scopes) is a space-separated list of:
 * - roles: `admin`, `viewer`, `partner`;
 * - constraints that are also roles: `nation:KE` (governor of Kenya), `sector:energy` (sector manager),
 *   `region:ams` (regional officer);
 * - explicit permissions `<resource>:read|write`, e.g. `projects:write`.
 * Explicit permissions and the viewer/partner roles apply within each constraint the principal carries
 * (globally when it carries none); `admin` is always global.
 */
export const RESOURCES = [
	"nations",
	"sectors",
	"projects",
	"ledger",
	"contributions",
	"distributions",
	"fund",
	"audit",
	"analytics",
	"notifications",
	"webhooks",
	"api_keys",
	"users",
	"sync",
	"admin",
] as const;
export type Resource = (typeof RESOURCES)[number];
export type Action = "read" | "write";
export type Permission = `${Resource}:${Action}`;

export const ROLES = ["admin", "viewer", "partner", "governor", "sector_manager", "regional"] as const;
export type Role = (typeof ROLES)[number];

const read = (...resources: Resource[]) => resources.map((r) => `${r}:read` as Permission);
const write = (...resources: Resource[]) => resources.map((r) => `${r}:write` as Permission);

/** Granted to every authenticated principal: the public reference data and their own profile. */
export const BASELINE: readonly Permission[] = [...read("nations", "sectors")];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
	admin: RESOURCES.flatMap((r) => [`${r}:read`, `${r}:write`] as Permission[]),
	viewer: read("projects", "fund", "contributions", "distributions", "analytics", "sync"),
	partner: [...read("projects", "fund", "distributions", "webhooks", "sync"), ...write("webhooks")],
	governor: [
		...read("projects", "ledger", "contributions", "distributions", "fund", "analytics", "sync"),
		...write("projects", "ledger", "nations", "sync"),
	],
	sector_manager: [
		...read("projects", "distributions", "fund", "analytics", "sync"),
		...write("projects", "sync"),
	],
	regional: read("projects", "ledger", "contributions", "distributions", "fund", "analytics", "sync"),
};

export type GrantScope =
	| { kind: "global" }
	| { kind: "nation"; iso2: string }
	| { kind: "sector"; slug: string }
	| { kind: "region"; region: string };

export interface Grant {
	scope: GrantScope;
	permissions: ReadonlySet<Permission>;
}

/** What an object-level check compares against: the object's nation, sector and serving region. */
export interface AccessTarget {
	nation?: string;
	sector?: string;
	region?: string;
}

const PERMISSION_RE = /^([a-z_]+):(read|write)$/;

export function isPermission(token: string): token is Permission {
	const m = PERMISSION_RE.exec(token);
	return !!m && (RESOURCES as readonly string[]).includes(m[1] as string);
}

/** Parses a scope string into grants. Unknown tokens are ignored (IdPs add their own, e.g. `openid`). */
export function grantsFromScope(scope: string): Grant[] {
	const tokens = scope.split(/\s+/).filter(Boolean);
	const explicit = tokens.filter(isPermission);
	const roles = new Set(tokens.filter((t) => t === "viewer" || t === "partner"));
	const roleExtras = [...roles].flatMap((r) => ROLE_PERMISSIONS[r as Role]);
	const grants: Grant[] = [];
	if (tokens.includes("admin"))
		grants.push({ scope: { kind: "global" }, permissions: new Set(ROLE_PERMISSIONS.admin) });

	const constraints: { scope: GrantScope; role: Role }[] = [];
	for (const token of tokens) {
		const [kind, value] = token.split(":", 2) as [string, string | undefined];
		if (!value) continue;
		if (kind === "nation" && /^[A-Z]{2}$/.test(value)) {
			constraints.push({ scope: { kind: "nation", iso2: value }, role: "governor" });
		} else if (kind === "sector" && /^[a-z]+$/.test(value)) {
			constraints.push({ scope: { kind: "sector", slug: value }, role: "sector_manager" });
		} else if (kind === "region" && /^[a-z]{3}$/.test(value)) {
			constraints.push({ scope: { kind: "region", region: value }, role: "regional" });
		}
	}
	for (const { scope: s, role } of constraints) {
		grants.push({ scope: s, permissions: new Set([...ROLE_PERMISSIONS[role], ...explicit, ...roleExtras]) });
	}
	if (constraints.length === 0 && (explicit.length > 0 || roleExtras.length > 0)) {
		grants.push({ scope: { kind: "global" }, permissions: new Set([...explicit, ...roleExtras]) });
	}
	grants.push({ scope: { kind: "global" }, permissions: new Set(BASELINE) });
	return grants;
}

export function scopeMatches(scope: GrantScope, target: AccessTarget): boolean {
	switch (scope.kind) {
		case "global":
			return true;
		case "nation":
			return target.nation === scope.iso2;
		case "sector":
			return target.sector === scope.slug;
		case "region":
			return target.region === scope.region;
	}
}

/**
 * The rows of a list a principal may see for a permission: everything, or the union of its constraints.
 * List queries turn this into a WHERE clause so pagination never leaks or skips rows.
 */
export interface Visibility {
	all: boolean;
	nations: string[];
	sectors: string[];
	regions: string[];
}

export function visibilityFor(grants: readonly Grant[], permission: Permission): Visibility {
	const v: Visibility = { all: false, nations: [], sectors: [], regions: [] };
	for (const g of grants) {
		if (!g.permissions.has(permission)) continue;
		if (g.scope.kind === "global") v.all = true;
		else if (g.scope.kind === "nation") v.nations.push(g.scope.iso2);
		else if (g.scope.kind === "sector") v.sectors.push(g.scope.slug);
		else v.regions.push(g.scope.region);
	}
	return v;
}
