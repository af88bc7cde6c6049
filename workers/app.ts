import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./lib/context.ts";
import { ApiError, problemBody, problemResponse, zodIssues } from "./lib/problem.ts";
import { httpRules } from "./middleware/http-rules.ts";
import { requestContext } from "./middleware/request-context.ts";
import { registerRoutes } from "./routes/index.ts";

export type App = OpenAPIHono<AppEnv>;

/** A router whose zod validation failures become 400 problem+json (STYLE.md habit 3). */
export function createRouter(): App {
	return new OpenAPIHono<AppEnv>({
		defaultHook: (result, c) => {
			if (!result.success) {
				const error = new ApiError("invalid_request", "The request did not match the schema; see errors", {
					errors: zodIssues(result.error),
				});
				return problemResponse(error.toProblem(c.req.path, c.var.requestId));
			}
		},
	});
}

export function createApp(): App {
	const app = createRouter();
	app.use("*", requestContext());
	app.use("/v1/*", ...httpRules({ routed: (method, path) => allowedMethods(app, path).includes(method) }));

	registerRoutes(app);

	app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
		type: "http",
		scheme: "bearer",
		bearerFormat: "JWT",
		description:
			"An OIDC access token from the configured issuer, or a partner API key. The scopes listed on each route are the permission it needs.",
	});
	app.doc31("/openapi.json", (c) => ({
		openapi: "3.1.0",
		info: {
			title: "Covenant Edge API",
			version: c.env.BUILD_VERSION,
			description:
				"The Global Covenant platform's edge API: nations, sectors, projects, per-nation ledgers, the covenant fund, events, webhooks and mobile sync. Errors are RFC 9457 problem+json.",
		},
		servers: [{ url: new URL(c.req.url).origin }],
	}));
	app.get("/docs", Scalar({ url: "/openapi.json", pageTitle: "Covenant Edge API" }));

	app.notFound((c) => {
		const allowed = allowedMethods(app, c.req.path);
		if (allowed.length > 0) {
			return problemResponse(
				problemBody("method_not_allowed", `${c.req.method} is not supported on ${c.req.path}`, {
					instance: c.req.path,
					request_id: c.var.requestId,
				}),
				{ allow: allowed.join(", ") },
			);
		}
		return problemResponse(
			problemBody("not_found", `No route matches ${c.req.method} ${c.req.path}`, {
				instance: c.req.path,
				request_id: c.var.requestId,
			}),
		);
	});
	app.onError((error, c) => renderError(error, c));
	return app;
}

export function renderError(error: unknown, c: Context<AppEnv>): Response {
	const requestId = c.var.requestId;
	if (error instanceof ApiError) {
		const response = problemResponse(error.toProblem(c.req.path, requestId), error.headers);
		if (requestId) response.headers.set("x-request-id", requestId);
		return response;
	}
	if (error instanceof HTTPException) {
		const code =
			error.status === 401 ? "unauthorized" : error.status === 413 ? "payload_too_large" : "invalid_request";
		return problemResponse(problemBody(code, error.message, { instance: c.req.path, request_id: requestId }));
	}
	// Unexpected: log with the request id, answer without internals.
	console.error(
		JSON.stringify({ msg: "unhandled error", requestId, path: c.req.path, error: String(error) }),
	);
	return problemResponse(
		problemBody("internal", "An unexpected error occurred; quote the request id when reporting it", {
			instance: c.req.path,
			request_id: requestId,
		}),
	);
}

const patternCache = new WeakMap<App, { method: string; re: RegExp }[]>();

/** The methods registered for a path, for 405 + Allow. */
function allowedMethods(app: App, path: string): string[] {
	let patterns = patternCache.get(app);
	if (!patterns) {
		patterns = app.routes
			.filter((r) => r.method !== "ALL")
			.map((r) => ({
				method: r.method,
				re: new RegExp(
					`^${r.path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\\\{\w+\\\}|:\w+/g, "[^/]+")}$`,
				),
			}));
		patternCache.set(app, patterns);
	}
	return [...new Set(patterns.filter((p) => p.re.test(path)).map((p) => p.method))];
}
