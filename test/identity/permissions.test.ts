import { describe, expect, it } from "vitest";
import {
	grantsFromScope,
	type Permission,
	permissionsBeyond,
	RESOURCES,
	ROLE_PERMISSIONS,
	unknownScopeTokens,
} from "../../workers/auth/permissions.ts";
import { Principal } from "../../workers/auth/principal.ts";
import { assertWritableFields } from "../../workers/auth/writable-fields.ts";
import { ApiError } from "../../workers/lib/problem.ts";

const user = (scope: string) => new Principal("user", "someone", scope);
const key = (scope: string) => new Principal("api_key", "k7x3q2m9a4b5c6d7", scope, {}, { subject: "owner" });

function refusal(run: () => void): ApiError {
	try {
		run();
	} catch (error) {
		if (error instanceof ApiError) return error;
		throw error;
	}
	throw new Error("expected an ApiError");
}

describe("scope grammar", () => {
	it("makes nation:KE a governor of Kenya only", () => {
		const governor = user("nation:KE");
		expect(governor.can("ledger:write", { nation: "KE" })).toBe(true);
		expect(governor.can("ledger:read", { nation: "TZ" })).toBe(false);
		expect(governor.can("ledger:write", { nation: "TZ" })).toBe(false);
		expect(governor.can("projects:write", { nation: "KE", sector: "energy" })).toBe(true);
		expect(governor.can("projects:write", { nation: "UG", sector: "energy" })).toBe(false);
		expect(governor.isAdmin).toBe(false);
	});

	it("lets a base role narrow a constraint instead of becoming its role (partner nation:KE is no governor)", () => {
		const partner = user("partner nation:KE");
		expect(partner.can("ledger:write", { nation: "KE" })).toBe(false);
		expect(partner.can("ledger:read", { nation: "KE" })).toBe(false);
		expect(partner.can("projects:read", { nation: "KE" })).toBe(true);
		expect(partner.can("projects:read", { nation: "TZ" })).toBe(false);
		expect(user("viewer region:ams").can("ledger:read", { region: "ams" })).toBe(false);
		expect(user("region:ams").can("ledger:read", { region: "ams" })).toBe(true);
	});

	it("applies explicit permissions within each constraint, and globally without one", () => {
		expect(user("sector:energy analytics:read").can("analytics:read", { sector: "energy" })).toBe(true);
		expect(user("sector:energy analytics:read").can("analytics:read", { sector: "health" })).toBe(false);
		expect(user("projects:read").can("projects:read", { nation: "BR" })).toBe(true);
	});

	it("lets write imply read on the same resource", () => {
		expect(user("webhooks:write").can("webhooks:read")).toBe(true);
		expect(user("webhooks:read").can("webhooks:write")).toBe(false);
	});

	it("gives every person their own profile, and API keys none", () => {
		expect(user("").hasPermission("profile:read")).toBe(true);
		expect(user("").hasPermission("profile:write")).toBe(true);
		expect(key("partner").hasPermission("profile:read")).toBe(false);
		expect(key("admin").hasPermission("profile:read")).toBe(true);
		expect(user("").hasPermission("nations:read")).toBe(true);
		expect(user("").hasPermission("projects:read")).toBe(false);
	});

	it("ignores unknown tokens in a token (IdPs add their own) but reports them for API keys", () => {
		expect(user("openid profile:email viewer").can("projects:read")).toBe(true);
		expect(
			unknownScopeTokens(["viewer", "nation:KE", "sector:mining", "region:xyz", "projects:delete", "openid"]),
		).toEqual(["sector:mining", "region:xyz", "projects:delete", "openid"]);
		expect(unknownScopeTokens(["admin", "partner", "sector:energy", "region:sin", "ledger:read"])).toEqual(
			[],
		);
	});

	it("gives partners API key management", () => {
		expect(ROLE_PERMISSIONS.partner).toContain("api_keys:write");
		expect(user("partner").hasPermission("api_keys:write")).toBe(true);
		expect(user("viewer").hasPermission("api_keys:read")).toBe(false);
	});
});

describe("permissionsBeyond (API key scopes never exceed the creator's)", () => {
	const beyond = (held: string, requested: string) =>
		permissionsBeyond(grantsFromScope(held), grantsFromScope(requested, []));

	it("accepts a subset", () => {
		expect(beyond("admin", "admin")).toEqual([]);
		expect(beyond("partner", "partner")).toEqual([]);
		expect(beyond("partner", "partner nation:KE")).toEqual([]);
		expect(beyond("nation:KE", "viewer nation:KE")).toEqual([]);
		expect(beyond("nation:KE", "nation:KE")).toEqual([]);
	});

	it("names what a request would add", () => {
		expect(beyond("partner", "admin")).toContain("admin:write");
		expect(beyond("nation:KE", "nation:TZ")).toContain("ledger:write in nation:TZ");
		expect(beyond("partner nation:KE", "partner")).toContain("projects:read");
		expect(beyond("viewer", "ledger:read")).toEqual(["ledger:read"]);
		expect(beyond("region:ams", "nation:NL")).toContain("ledger:read in nation:NL");
	});
});

describe("Principal.assert (object-level checks)", () => {
	it("answers 404 for another nation's ledger, whether reading or writing", () => {
		const governor = user("nation:KE");
		expect(refusal(() => governor.assert("ledger:read", { nation: "TZ" }, "Ledger TZ")).status).toBe(404);
		expect(refusal(() => governor.assert("ledger:write", { nation: "TZ" }, "Ledger TZ")).status).toBe(404);
		expect(() => governor.assert("ledger:write", { nation: "KE" }, "Ledger KE")).not.toThrow();
	});

	it("answers 403 for a write to an object the principal may only read", () => {
		const regional = user("region:jnb");
		expect(regional.can("ledger:read", { region: "jnb" })).toBe(true);
		const error = refusal(() =>
			regional.assert("ledger:write", { region: "jnb", nation: "ZA" }, "Ledger ZA"),
		);
		expect(error.status).toBe(403);
	});

	it("limits a sector manager's projects to the sector", () => {
		const manager = user("sector:energy");
		expect(() =>
			manager.assert("projects:write", { sector: "energy", nation: "BR" }, "Project"),
		).not.toThrow();
		expect(
			refusal(() => manager.assert("projects:write", { sector: "health", nation: "BR" }, "Project")).status,
		).toBe(404);
	});
});

describe("assertWritableFields (no mass assignment)", () => {
	const rules = {
		status: { permission: "projects:write" as Permission },
		budget_cents: "admin" as const,
		"limits.burst": "admin" as const,
	};

	it("lets a principal set the fields its role may set", () => {
		expect(() =>
			assertWritableFields(user("nation:KE"), { status: "active", name: "x" }, rules, { nation: "KE" }),
		).not.toThrow();
		expect(() =>
			assertWritableFields(user("admin"), { budget_cents: 5, limits: { burst: 3 } }, rules, { nation: "KE" }),
		).not.toThrow();
	});

	it("refuses with 403 naming every field the role may not set", () => {
		const error = refusal(() =>
			assertWritableFields(
				user("nation:KE"),
				{ status: "active", budget_cents: 10, limits: { burst: 3 } },
				rules,
				{ nation: "TZ" },
			),
		);
		expect(error.status).toBe(403);
		expect(error.errors?.map((e) => e.path.join("."))).toEqual(["status", "budget_cents", "limits.burst"]);
		expect(error.errors?.every((e) => e.code === "forbidden_field")).toBe(true);
	});

	it("ignores fields that are absent or undefined", () => {
		expect(() =>
			assertWritableFields(user("viewer"), { name: "x", budget_cents: undefined, limits: {} }, rules),
		).not.toThrow();
	});
});

describe("docs/identity.md", () => {
	it("shows the permission table ROLE_PERMISSIONS defines", async () => {
		const { default: doc } = await import("../../docs/identity.md?raw");
		const roles = ["admin", "governor", "sector_manager", "regional", "partner", "viewer"] as const;
		const rows = (doc as string)
			.split("\n")
			.filter((line) => /^\| [a-z_]+ +\| +(read|–)/.test(line))
			.map((line) =>
				line
					.split("|")
					.slice(1, -1)
					.map((cell) => cell.trim()),
			);
		expect(rows.map((row) => row[0])).toEqual([...RESOURCES]);
		for (const [resource, ...cells] of rows) {
			roles.forEach((role, i) => {
				const held = new Set(ROLE_PERMISSIONS[role]);
				const documented = cells[i] ?? "";
				expect(documented.startsWith("read, write"), `${resource} / ${role}`).toBe(
					held.has(`${resource}:write` as Permission) || (resource === "profile" && documented.endsWith("*")),
				);
				const reads =
					held.has(`${resource}:read` as Permission) || held.has(`${resource}:write` as Permission);
				if (reads) expect(documented, `${resource} / ${role}`).toMatch(/^read/);
				if (documented === "–") expect(reads, `${resource} / ${role}`).toBe(false);
			});
		}
	});
});
