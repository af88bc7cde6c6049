import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Permission } from "../auth/permissions.ts";
import { protect } from "../middleware/authenticate.ts";
import type { AppEnv } from "./context.ts";
import { problemResponses } from "./problem.ts";

/** How a route is protected, declared beside it so the OpenAPI document shows the same thing that is enforced. */
export type Access = { public: true } | { permission: Permission };

type RouteInput = Omit<RouteConfig, "middleware" | "security"> & {
	access: Access;
	/**
	 * Rate-limit units one call spends from the caller's bucket (default 1). Give expensive routes (searches,
	 * reports, batch writes) a higher cost. Shown in the OpenAPI document as `x-rate-limit-cost`.
	 */
	cost?: number;
};

/** The security schemes a protected route accepts (registered by the app and the api-keys routes). */
export const SECURITY_SCHEMES = { bearer: "bearerAuth", apiKey: "apiKeyAuth" } as const;

/**
 * createRoute plus access control. For a protected route it prepends `protect()`, which runs in order:
 * authentication (401), the rate limit (429, spending `cost`), the permission check (403) and, after the
 * handler, the caller's provisioning — all of the checks before
 * body validation, so an anonymous or unauthorised caller learns nothing about the body's shape and causes no
 * side effect. The OpenAPI operation gets its `security` (the permission as the required scope),
 * `x-required-permission`, `x-rate-limit-cost`, and the 401/403/429/503 problems.
 */
export function defineRoute<const R extends RouteInput>(config: R) {
	const { access, cost, ...route } = config;
	if ("public" in access) {
		return createRoute({
			...route,
			responses: { ...route.responses, ...problemResponses(500) },
		} as Omit<R, "access"> & Pick<RouteConfig, "responses">) as unknown as Omit<R, "access" | "cost">;
	}
	const units = cost ?? 1;
	if (!Number.isInteger(units) || units < 1) {
		throw new Error(
			`defineRoute ${route.method.toUpperCase()} ${route.path}: cost must be a positive integer`,
		);
	}
	// One middleware for the four steps: each extra one is an async frame and a closure on every request.
	const middleware: MiddlewareHandler<AppEnv>[] = [protect({ permission: access.permission, cost: units })];
	return createRoute({
		...route,
		security: [
			{ [SECURITY_SCHEMES.bearer]: [access.permission] },
			{ [SECURITY_SCHEMES.apiKey]: [access.permission] },
		],
		middleware,
		// The route's own entries win: its 403 or 503 may say more than the generic ones.
		responses: { ...problemResponses(401, 403, 429, 500, 503), ...route.responses },
		"x-required-permission": access.permission,
		"x-rate-limit-cost": units,
	} as unknown as RouteConfig) as unknown as Omit<R, "access" | "cost"> & {
		middleware: MiddlewareHandler<AppEnv>[];
	};
}
