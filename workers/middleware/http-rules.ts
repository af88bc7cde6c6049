import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../lib/context.ts";
import { ApiError } from "../lib/problem.ts";

/** The largest request body the API accepts (a ledger batch of 1,000 transfers fits with room to spare). */
export const MAX_BODY_BYTES = 1024 * 1024;

const JSON_MEDIA = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

export interface HttpRulesOptions {
	/**
	 * Whether a route serves this method on this path. A request no route serves is left to the app's 404/405
	 * handler, so a wrong method is reported as such (405 + Allow) even when its body is not JSON.
	 */
	routed?: (method: string, path: string) => boolean;
}

/**
 * Media-type rules every /v1 route shares: a request body must be JSON (415 otherwise, so a form post can
 * never bypass JSON validation), the client must accept JSON (406 otherwise), and bodies over
 * MAX_BODY_BYTES answer 413.
 *
 * @example app.use("/v1/*", ...httpRules({ routed: (method, path) => isRouted(method, path) }));
 */
export function httpRules(options: HttpRulesOptions = {}): MiddlewareHandler<AppEnv>[] {
	const limitBody = bodyLimit({
		maxSize: MAX_BODY_BYTES,
		onError: () => {
			throw new ApiError("payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes`);
		},
	});
	// One middleware (a read, the common case, has no body and passes straight through to the route).
	return [
		async (c, next) => {
			const accept = c.req.header("accept");
			if (accept && !acceptsJson(accept)) {
				throw new ApiError(
					"not_acceptable",
					`This API answers application/json; the Accept header was '${accept}'`,
				);
			}
			const raw = c.req.raw;
			// Whether a body is present is the request's body stream, not its framing headers: HTTP/2 and HTTP/3
			// requests need not send Content-Length and must not send Transfer-Encoding, and a body handed over
			// inside the runtime carries neither (deciding by headers let such a text/plain body through to the
			// route's validator, which answered 400 instead of 415).
			if (raw.body === null) return next();
			const method = raw.method;
			const hasBody =
				(method === "POST" || method === "PUT" || method === "PATCH") &&
				raw.headers.get("content-length") !== "0";
			if (hasBody && (options.routed?.(method, c.req.path) ?? true)) {
				const type = raw.headers.get("content-type") ?? "";
				if (!JSON_MEDIA.test(type)) {
					throw new ApiError(
						"unsupported_media_type",
						`Request bodies must be application/json; the Content-Type was '${type || "(none)"}'`,
					);
				}
			}
			// Any body, whatever the method, stays within MAX_BODY_BYTES (413).
			return limitBody(c, next);
		},
	];
}

/** Whether an `Accept` header admits a JSON answer (406 otherwise). */
export function acceptsJson(accept: string): boolean {
	return accept.split(",").some((part) => {
		const type = part.split(";")[0]?.trim().toLowerCase() ?? "";
		return (
			type === "*/*" ||
			type === "application/*" ||
			type === "application/json" ||
			type === "application/problem+json" ||
			/^application\/[a-z0-9.-]+\+json$/.test(type)
		);
	});
}
