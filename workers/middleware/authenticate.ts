import type { Context, MiddlewareHandler } from "hono";
import { looksLikeApiKey } from "../auth/api-key-format.ts";
import { assertTokenNotRevoked, authenticateApiKey, refreshRevocationsAhead } from "../auth/credentials.ts";
import { addressKey, countFailedCredential, refuseBlockedAddress } from "../auth/failed-credentials.ts";
import { cachedVerification, scopeClaim, type VerifiedToken, verifyAccessToken } from "../auth/jwt.ts";
import type { Permission } from "../auth/permissions.ts";
import { Principal } from "../auth/principal.ts";
import { provisionOnFirstSight } from "../auth/provisioning.ts";
import { type AppEnv, backgroundOf } from "../lib/context.ts";
import { ApiError } from "../lib/problem.ts";
import { setRateLimitHeaders, spendRateLimit } from "./rate-limit.ts";

/** RFC 6750 b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const API_KEY_HEADER = "x-api-key";

function unauthorized(detail: string, error?: "invalid_request"): ApiError {
	return new ApiError("unauthorized", detail, {
		headers: {
			"www-authenticate": error ? `Bearer realm="covenant", error="${error}"` : `Bearer realm="covenant"`,
		},
	});
}

/** The one credential of the request: `Authorization: Bearer <JWT | API key>` or `X-API-Key: <API key>`. */
function readCredential(c: Context<AppEnv>): string {
	const authorization = c.req.header("authorization");
	const apiKey = c.req.header(API_KEY_HEADER)?.trim();
	if (!authorization && !apiKey) {
		throw unauthorized("This route needs a bearer token (or an API key) in the Authorization header");
	}
	let bearer: string | undefined;
	if (authorization) {
		const match = BEARER.exec(authorization.trim());
		if (!match?.[1]) {
			throw unauthorized("The Authorization header must be 'Bearer <token>'", "invalid_request");
		}
		bearer = match[1];
	}
	if (bearer && apiKey) {
		throw unauthorized(
			"Send one credential: an Authorization header or an X-API-Key header, not both",
			"invalid_request",
		);
	}
	return (bearer ?? apiKey) as string;
}

/** Principals built from verified tokens, one per cached verification (see `principalFor`). */
const tokenPrincipals = new WeakMap<VerifiedToken, Principal>();

/**
 * The principal of a verified token. verifyAccessToken() hands back the same object for as long as it keeps
 * the verification cached (at most VERIFIED_TOKEN_TTL_MS), so the principal (its grants parsed from the scope
 * claim) is built once per token per isolate instead of once per request. A Principal is immutable, and the
 * revocation check runs on every request before this.
 */
export function principalFor(verified: VerifiedToken): Principal {
	let principal = tokenPrincipals.get(verified);
	if (!principal) {
		const { payload } = verified;
		principal = new Principal("user", payload.sub, scopeClaim(payload), payload, {
			tokenId: typeof payload.jti === "string" ? payload.jti : undefined,
		});
		tokenPrincipals.set(verified, principal);
	}
	return principal;
}

/**
 * The caller of the request: a partner API key (checked against the credentials authority) or an OIDC access
 * token (verified against the issuer's JWKS, then checked against the live revocation list). Missing or
 * invalid credentials throw 401 problems; an unreachable authority 503.
 */
async function resolvePrincipal(c: Context<AppEnv>): Promise<Principal> {
	const address = addressKey(c.req.raw.headers);
	try {
		let credential: string;
		try {
			credential = readCredential(c);
		} catch (error) {
			refuseBlockedAddress(address);
			throw error;
		}
		const apiKey = looksLikeApiKey(credential);
		// A token this isolate already verified costs nothing to accept: no address is refused for it.
		refuseBlockedAddress(address, () => !apiKey && cachedVerification(credential, c.env) !== undefined);
		if (apiKey) return await authenticateApiKey(c.env, credential);
		const verified = await verifyAccessToken(credential, c.env);
		await assertTokenNotRevoked(c.env, verified.payload);
		refreshRevocationsAhead(c.env, backgroundOf(c));
		return principalFor(verified);
	} catch (error) {
		if (error instanceof ApiError && error.status === 401) await countFailedCredential(c.env, address);
		throw error;
	}
}

/**
 * Resolves the caller and sets `c.var.principal`. Missing or invalid credentials answer 401 problem+json
 * before any validation or side effect; an unreachable authority answers 503.
 *
 * @example app.use("/v1/me/*", authenticate())
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
	return async (c, next) => {
		c.set("principal", await resolvePrincipal(c));
		await next();
	};
}

function forbidden(principal: Principal, permission: Permission, headers?: Record<string, string>): ApiError {
	return new ApiError(
		"forbidden",
		principal.kind === "api_key" && permission.startsWith("profile:")
			? "API keys have no user profile; call this route with a person's token"
			: `This route needs the ${permission} permission, which your scopes do not grant`,
		{ extensions: { required_permission: permission }, headers },
	);
}

/** Route-level check: the principal holds the permission under at least one of its grants. */
export function requirePermission(permission: Permission): MiddlewareHandler<AppEnv> {
	return async (c, next) => {
		const principal = c.get("principal");
		if (!principal.hasPermission(permission)) throw forbidden(principal, permission);
		await next();
	};
}

/**
 * Provisions the person behind an accepted request (first sight creates their user record; a new session
 * emits `users.authenticated`) once the handler is done, on the request's own connection. Runs after the
 * permission check: a refused request has no side effect.
 */
export function provisionCaller(): MiddlewareHandler<AppEnv> {
	return async (c, next) => {
		await next();
		await provisionOnFirstSight(c, c.get("principal"));
	};
}

export interface ProtectOptions {
	permission: Permission;
	/** Rate-limit units one call spends (default 1). */
	cost?: number;
}

/**
 * Everything a protected route runs before its handler, as ONE middleware (one async frame instead of four on
 * every request): authentication (401), the rate limit (429, spending `cost`), the permission check (403),
 * then after the handler the caller's provisioning and the RateLimit headers, which every answer carries once
 * the limit was consulted (the 403 included).
 *
 * @example defineRoute({ ..., access: { permission: "projects:read" }, cost: 2 }) // uses protect() itself
 */
export function protect(options: ProtectOptions): MiddlewareHandler<AppEnv> {
	const { permission } = options;
	const cost = options.cost ?? 1;
	return async (c, next) => {
		const principal = await resolvePrincipal(c);
		c.set("principal", principal);
		const headers = await spendRateLimit(c, principal, cost);
		if (!principal.hasPermission(permission)) throw forbidden(principal, permission, headers);
		await next();
		await provisionOnFirstSight(c, principal);
		setRateLimitHeaders(c, headers);
	};
}
