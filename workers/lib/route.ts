import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Permission } from "../auth/permissions.ts";
import { authenticate, requirePermission } from "../middleware/authenticate.ts";
import type { AppEnv } from "./context.ts";
import { problemResponses } from "./problem.ts";

/** How a route is protected, declared beside it so the OpenAPI document shows the same thing that is enforced. */
export type Access = { public: true } | { permission: Permission };

type RouteInput = Omit<RouteConfig, "middleware" | "security"> & { access: Access };

/**
 * createRoute plus access control: for a protected route it prepends authentication and the permission
 * check (before body validation, so an anonymous caller learns nothing about the body's shape), declares the
 * bearer security requirement with the permission as its scope, and lists the 401/403/429 problems.
 */
export function defineRoute<const R extends RouteInput>(config: R) {
	const { access, ...route } = config;
	if ("public" in access) {
		return createRoute({
			...route,
			responses: { ...route.responses, ...problemResponses(500) },
		} as Omit<R, "access"> & Pick<RouteConfig, "responses">) as unknown as Omit<R, "access">;
	}
	const middleware: MiddlewareHandler<AppEnv>[] = [authenticate(), requirePermission(access.permission)];
	return createRoute({
		...route,
		security: [{ bearerAuth: [access.permission] }],
		middleware,
		responses: { ...route.responses, ...problemResponses(401, 403, 429, 500) },
		"x-required-permission": access.permission,
	} as unknown as RouteConfig) as unknown as Omit<R, "access"> & { middleware: MiddlewareHandler<AppEnv>[] };
}
