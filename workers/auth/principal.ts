import { ApiError } from "../lib/problem.ts";
import {
	type AccessTarget,
	type Grant,
	grantsFromScope,
	type Permission,
	scopeMatches,
	visibilityFor,
} from "./permissions.ts";

export type PrincipalKind = "user" | "api_key";

/** Who is calling, and what they may do. Built once per request by the authenticate middleware. */
export class Principal {
	readonly kind: PrincipalKind;
	/** `sub` of the token, or the API key's id. */
	readonly id: string;
	readonly scope: string;
	readonly grants: readonly Grant[];
	readonly claims: Readonly<Record<string, unknown>>;

	constructor(kind: PrincipalKind, id: string, scope: string, claims: Record<string, unknown> = {}) {
		this.kind = kind;
		this.id = id;
		this.scope = scope;
		this.grants = grantsFromScope(scope);
		this.claims = claims;
	}

	get isAdmin(): boolean {
		return this.grants.some((g) => g.scope.kind === "global" && g.permissions.has("admin:write"));
	}

	/** Whether any grant carries the permission (route-level check; the object is not known yet). */
	hasPermission(permission: Permission): boolean {
		return this.grants.some((g) => g.permissions.has(permission));
	}

	/** Object-level check: a grant with the permission whose scope covers the target. */
	can(permission: Permission, target: AccessTarget = {}): boolean {
		return this.grants.some((g) => g.permissions.has(permission) && scopeMatches(g.scope, target));
	}

	/**
	 * Throws 404 rather than 403 for reads, so a scoped principal cannot probe which objects exist elsewhere;
	 * 403 for writes to objects it can see but not change.
	 */
	assert(permission: Permission, target: AccessTarget, what: string): void {
		if (this.can(permission, target)) return;
		if (permission.endsWith(":read")) throw new ApiError("not_found", `${what} was not found`);
		const readable = this.can(permission.replace(/:write$/, ":read") as Permission, target);
		if (!readable) throw new ApiError("not_found", `${what} was not found`);
		throw new ApiError("forbidden", `Your scopes do not allow ${permission} on ${what}`);
	}

	visibility(permission: Permission) {
		return visibilityFor(this.grants, permission);
	}
}
