import { ApiError } from "../lib/problem.ts";
import {
	type AccessTarget,
	BASELINE,
	type Grant,
	grantsFromScope,
	type Permission,
	scopeMatches,
	USER_BASELINE,
	visibilityFor,
} from "./permissions.ts";

export type PrincipalKind = "user" | "api_key";

/** A per-key rate limit (units of route cost per minute, and the bucket size). */
export interface RateLimitOverride {
	perMinute: number;
	burst: number;
}

export interface PrincipalDetails {
	/** The person accountable for the principal: the token's `sub`, or the `sub` that owns the API key. */
	subject?: string;
	/** The token's `jti`, when it has one. */
	tokenId?: string;
	/** A limit configured on the API key; the deployment's default applies otherwise. */
	rateLimit?: RateLimitOverride;
}

/** Who is calling, and what they may do. Built once per request by the authenticate middleware. */
export class Principal {
	readonly kind: PrincipalKind;
	/** `sub` of the token, or the API key's id. */
	readonly id: string;
	readonly scope: string;
	readonly grants: readonly Grant[];
	readonly claims: Readonly<Record<string, unknown>>;
	readonly subject: string;
	readonly tokenId?: string;
	readonly rateLimit?: RateLimitOverride;

	constructor(
		kind: PrincipalKind,
		id: string,
		scope: string,
		claims: Record<string, unknown> = {},
		details: PrincipalDetails = {},
	) {
		this.kind = kind;
		this.id = id;
		this.scope = scope;
		this.grants = grantsFromScope(scope, kind === "user" ? USER_BASELINE : BASELINE);
		this.claims = claims;
		this.subject = details.subject ?? id;
		this.tokenId = details.tokenId;
		this.rateLimit = details.rateLimit;
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
