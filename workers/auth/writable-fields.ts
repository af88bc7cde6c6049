import { ApiError, type ProblemIssue } from "../lib/problem.ts";
import type { AccessTarget, Permission } from "./permissions.ts";
import type { Principal } from "./principal.ts";

/**
 * Who may set a body field: a permission (checked against the object's target, like `principal.can`), the
 * same with its own target, or `"admin"` for fields only a global administrator may set.
 */
export type FieldRule = Permission | "admin" | { permission: Permission; target?: AccessTarget };

/** Field name (or dotted path into nested objects, e.g. `"limits.burst"`) → who may set it. */
export type FieldRules = Readonly<Record<string, FieldRule>>;

/**
 * The mass-assignment guard: refuses (403 problem+json listing every offending field) a body that sets a
 * field the principal's role may not set. Fields without a rule are governed by the route's own permission;
 * unknown fields never get here because bodies are `.strict()` zod objects (400).
 *
 * Call it after validation and after loading the object (so `target` is the object's nation/sector/region),
 * before any write.
 *
 * @example
 * assertWritableFields(c.var.principal, body, {
 *   status: { permission: "projects:write", target: { region: project.servingRegion } },
 *   budget_cents: "admin",
 * }, { nation: project.nationIso2, sector: project.sector });
 */
export function assertWritableFields(
	principal: Principal,
	body: Record<string, unknown>,
	rules: FieldRules,
	target: AccessTarget = {},
): void {
	const refused: ProblemIssue[] = [];
	for (const [field, rule] of Object.entries(rules)) {
		if (!isSet(body, field)) continue;
		if (allows(principal, rule, target)) continue;
		refused.push({
			path: field.split("."),
			message: `Your scopes do not allow setting ${field} (it needs ${describeRule(rule)})`,
			code: "forbidden_field",
		});
	}
	if (refused.length > 0) {
		throw new ApiError(
			"forbidden",
			`Your scopes do not allow setting ${refused.map((r) => r.path.join(".")).join(", ")}`,
			{ errors: refused },
		);
	}
}

function allows(principal: Principal, rule: FieldRule, target: AccessTarget): boolean {
	if (rule === "admin") return principal.isAdmin;
	if (typeof rule === "string") return principal.can(rule, target);
	return principal.can(rule.permission, rule.target ?? target);
}

function describeRule(rule: FieldRule): string {
	if (rule === "admin") return "the admin role";
	return typeof rule === "string" ? rule : rule.permission;
}

function isSet(body: Record<string, unknown>, path: string): boolean {
	let current: unknown = body;
	for (const part of path.split(".")) {
		if (current === null || typeof current !== "object" || !Object.hasOwn(current, part)) return false;
		current = (current as Record<string, unknown>)[part];
	}
	return current !== undefined;
}
