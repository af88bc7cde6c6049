import type { Context, MiddlewareHandler } from "hono";
import { looksLikeApiKey } from "../auth/api-key-format.ts";
import { assertTokenNotRevoked, authenticateApiKey } from "../auth/credentials.ts";
import { scopeClaim, verifyAccessToken } from "../auth/jwt.ts";
import type { Permission } from "../auth/permissions.ts";
import { Principal } from "../auth/principal.ts";
import { provisionOnFirstSight } from "../auth/provisioning.ts";
import type { AppEnv } from "../lib/context.ts";
import { ApiError } from "../lib/problem.ts";

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

/**
 * Resolves the caller and sets `c.var.principal`: a partner API key (checked against the credentials
 * authority) or an OIDC access token (verified against the issuer's JWKS, then checked against the live
 * revocation list). Missing or invalid credentials
 * answer 401 problem+json before any validation or side effect; an unreachable authority answers 503.
 *
 * @example app.openapi(defineRoute({ ..., access: { permission: "projects:read" } }), handler)
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
	return async (c, next) => {
		const credential = readCredential(c);
		let principal: Principal;
		if (looksLikeApiKey(credential)) {
			principal = await authenticateApiKey(c.env, credential);
		} else {
			const { payload } = await verifyAccessToken(credential, c.env);
			await assertTokenNotRevoked(c.env, payload);
			principal = new Principal("user", payload.sub, scopeClaim(payload), payload, {
				tokenId: typeof payload.jti === "string" ? payload.jti : undefined,
			});
		}
		c.set("principal", principal);
		await next();
	};
}

/** Route-level check: the principal holds the permission under at least one of its grants. */
export function requirePermission(permission: Permission): MiddlewareHandler<AppEnv> {
	return async (c, next) => {
		if (!c.var.principal.hasPermission(permission)) {
			throw new ApiError(
				"forbidden",
				c.var.principal.kind === "api_key" && permission.startsWith("profile:")
					? "API keys have no user profile; call this route with a person's token"
					: `This route needs the ${permission} permission, which your scopes do not grant`,
				{ extensions: { required_permission: permission } },
			);
		}
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
		await provisionOnFirstSight(c, c.var.principal);
	};
}
