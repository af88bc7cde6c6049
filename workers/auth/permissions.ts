import { SECTOR_SLUGS } from "../../queues/envelope.ts";
import { SERVING_REGIONS } from "../domain/serving-regions.ts";

/**
 * Scopes and roles. A principal's `scope` claim (or an API key's scopes) is a space-separated list of:
 * - `admin`: everything, everywhere;
 * - base roles `viewer` and `partner`;
 * - constraints `nation:KE`, `sector:energy`, `region:ams`. On their own, each is also a role: governor of
 *   Kenya, manager of the energy sector, regional officer for ams. Next to a base role they only narrow it:
 *   `partner nation:KE` is a partner limited to Kenya, never a governor;
 * - explicit permissions `<resource>:read|write`, e.g. `projects:write`.
 * Explicit permissions and base roles apply within each constraint the principal carries (globally when it
 * carries none). `write` implies `read` on the same resource. Unknown tokens in a token's scope are ignored
 * (identity providers add their own, e.g. `openid`); API keys refuse them (see `parseKeyScopes`).
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
	/** The caller's own user record (`/v1/me`): granted to every signed-in person, never to an API key. */
	"profile",
] as const;
export type Resource = (typeof RESOURCES)[number];
export type Action = "read" | "write";
export type Permission = `${Resource}:${Action}`;

export const ROLES = ["admin", "viewer", "partner", "governor", "sector_manager", "regional"] as const;
export type Role = (typeof ROLES)[number];

/** The serving regions a `region:` constraint may name. */
export const REGIONS = SERVING_REGIONS;

const read = (...resources: Resource[]) => resources.map((r) => `${r}:read` as Permission);
const write = (...resources: Resource[]) => resources.map((r) => `${r}:write` as Permission);

/** Granted to every authenticated principal: the public reference data. */
export const BASELINE: readonly Permission[] = [...read("nations", "sectors")];
/** Granted on top of BASELINE to people (token principals): their own profile. */
export const USER_BASELINE: readonly Permission[] = [...BASELINE, ...read("profile"), ...write("profile")];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
	admin: RESOURCES.flatMap((r) => [`${r}:read`, `${r}:write`] as Permission[]),
	viewer: read("projects", "fund", "contributions", "distributions", "analytics", "sync"),
	partner: [
		...read("projects", "fund", "distributions", "webhooks", "sync", "api_keys"),
		...write("webhooks", "api_keys"),
	],
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
const BASE_ROLES = new Set(["viewer", "partner"]);

export function isPermission(token: string): token is Permission {
	const m = PERMISSION_RE.exec(token);
	return !!m && (RESOURCES as readonly string[]).includes(m[1] as string);
}

/** A constraint token (`nation:KE`, `sector:energy`, `region:ams`) as a grant scope, or undefined. */
export function constraintOf(token: string): { scope: GrantScope; role: Role } | undefined {
	const [kind, value] = token.split(":", 2) as [string, string | undefined];
	if (!value) return undefined;
	if (kind === "nation" && /^[A-Z]{2}$/.test(value))
		return { scope: { kind, iso2: value }, role: "governor" };
	if (kind === "sector" && (SECTOR_SLUGS as readonly string[]).includes(value)) {
		return { scope: { kind, slug: value }, role: "sector_manager" };
	}
	if (kind === "region" && (REGIONS as readonly string[]).includes(value)) {
		return { scope: { kind, region: value }, role: "regional" };
	}
	return undefined;
}

/** Adds `<resource>:read` for every `<resource>:write`: whoever may change a thing may see it. */
function withImpliedReads(permissions: Iterable<Permission>): Set<Permission> {
	const out = new Set<Permission>();
	for (const p of permissions) {
		out.add(p);
		if (p.endsWith(":write")) out.add(p.replace(/:write$/, ":read") as Permission);
	}
	return out;
}

/**
 * Parses a scope string into grants. Unknown tokens are ignored. `baseline` is what every principal of this
 * kind holds regardless of its scope (people also hold their own profile).
 */
export function grantsFromScope(scope: string, baseline: readonly Permission[] = BASELINE): Grant[] {
	const tokens = scope.split(/\s+/).filter(Boolean);
	const explicit = tokens.filter(isPermission);
	const baseRoles = tokens.filter((t) => BASE_ROLES.has(t)) as Role[];
	const basePermissions = baseRoles.flatMap((r) => ROLE_PERMISSIONS[r]);
	const grants: Grant[] = [];
	if (tokens.includes("admin")) {
		grants.push({ scope: { kind: "global" }, permissions: new Set(ROLE_PERMISSIONS.admin) });
	}
	const constraints = tokens.map(constraintOf).filter((c) => c !== undefined);
	for (const { scope: s, role } of constraints) {
		// A constraint is a role of its own only when no base role is named; otherwise it only narrows.
		const rolePermissions = baseRoles.length === 0 ? ROLE_PERMISSIONS[role] : [];
		grants.push({
			scope: s,
			permissions: withImpliedReads([...rolePermissions, ...basePermissions, ...explicit]),
		});
	}
	if (constraints.length === 0 && (explicit.length > 0 || basePermissions.length > 0)) {
		grants.push({
			scope: { kind: "global" },
			permissions: withImpliedReads([...basePermissions, ...explicit]),
		});
	}
	grants.push({ scope: { kind: "global" }, permissions: new Set(baseline) });
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

/** Whether everything `inner` covers is also covered by `outer` (a global scope covers every other). */
function scopeCovers(outer: GrantScope, inner: GrantScope): boolean {
	if (outer.kind === "global") return true;
	if (outer.kind !== inner.kind) return false;
	switch (outer.kind) {
		case "nation":
			return inner.kind === "nation" && inner.iso2 === outer.iso2;
		case "sector":
			return inner.kind === "sector" && inner.slug === outer.slug;
		case "region":
			return inner.kind === "region" && inner.region === outer.region;
	}
}

/**
 * The permissions `requested` would grant that `held` does not: empty when `requested` is a subset of
 * `held`. Used so an API key never carries more than the person who creates it (no privilege escalation).
 */
export function permissionsBeyond(held: readonly Grant[], requested: readonly Grant[]): string[] {
	const missing = new Set<string>();
	for (const grant of requested) {
		for (const permission of grant.permissions) {
			const covered = held.some((h) => h.permissions.has(permission) && scopeCovers(h.scope, grant.scope));
			if (!covered) missing.add(`${permission}${describeScope(grant.scope)}`);
		}
	}
	return [...missing].sort();
}

export function describeScope(scope: GrantScope): string {
	switch (scope.kind) {
		case "global":
			return "";
		case "nation":
			return ` in nation:${scope.iso2}`;
		case "sector":
			return ` in sector:${scope.slug}`;
		case "region":
			return ` in region:${scope.region}`;
	}
}

/**
 * Validates the scopes requested for an API key: every token must be part of the grammar (a typo must not
 * silently produce a key that can do less, or be read later as something else). Returns the unknown tokens.
 */
export function unknownScopeTokens(tokens: readonly string[]): string[] {
	return tokens.filter(
		(t) => t !== "admin" && !BASE_ROLES.has(t) && !isPermission(t) && constraintOf(t) === undefined,
	);
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
