import type { MiddlewareHandler } from "hono";
import { scopeClaim, verifyAccessToken } from "../auth/jwt.ts";
import type { Permission } from "../auth/permissions.ts";
import { Principal } from "../auth/principal.ts";
import type { AppEnv } from "../lib/context.ts";
import { ApiError } from "../lib/problem.ts";

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;

/**
 * Resolves the caller from `Authorization: Bearer <JWT>` and sets `c.var.principal`. Missing or invalid
 * credentials answer 401 problem+json before any validation or side effect.
 *
 * @example app.openapi(defineRoute({ ..., access: { permission: "projects:read" } }), handler)
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
	return async (c, next) => {
		const header = c.req.header("authorization");
		if (!header) {
			throw new ApiError("unauthorized", "This route needs a bearer token in the Authorization header", {
				headers: { "www-authenticate": 'Bearer realm="covenant"' },
			});
		}
		const match = BEARER.exec(header.trim());
		if (!match?.[1]) {
			throw new ApiError("unauthorized", "The Authorization header must be 'Bearer <token>'", {
				headers: { "www-authenticate": 'Bearer error="invalid_request"' },
			});
		}
		const { payload } = await verifyAccessToken(match[1], c.env);
		c.set("principal", new Principal("user", String(payload.sub), scopeClaim(payload), payload));
		await next();
	};
}

/** Route-level check: the principal holds the permission under at least one of its grants. */
export function requirePermission(permission: Permission): MiddlewareHandler<AppEnv> {
	return async (c, next) => {
		if (!c.var.principal.hasPermission(permission)) {
			throw new ApiError(
				"forbidden",
				`This route needs the ${permission} permission, which your scopes do not grant`,
			);
		}
		await next();
	};
}
