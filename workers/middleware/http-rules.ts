import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../lib/context.ts";
import { ApiError } from "../lib/problem.ts";

/** The largest request body the API accepts (a ledger batch of 1,000 transfers fits with room to spare). */
export const MAX_BODY_BYTES = 1024 * 1024;

const JSON_MEDIA = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

/**
 * Media-type rules every /v1 route shares: a request body must be JSON (415 otherwise, so a form post can
 * never bypass JSON validation), the client must accept JSON (406 otherwise), and bodies over
 * MAX_BODY_BYTES answer 413.
 */
export function httpRules(): MiddlewareHandler<AppEnv>[] {
	return [
		async (c, next) => {
			const accept = c.req.header("accept");
			if (accept && !acceptsJson(accept)) {
				throw new ApiError(
					"not_acceptable",
					`This API answers application/json; the Accept header was '${accept}'`,
				);
			}
			const method = c.req.method;
			const hasBody =
				(method === "POST" || method === "PUT" || method === "PATCH") &&
				(c.req.header("content-length") !== "0" || c.req.header("transfer-encoding") !== undefined) &&
				(c.req.header("content-length") !== undefined || c.req.header("transfer-encoding") !== undefined);
			if (hasBody) {
				const type = c.req.header("content-type") ?? "";
				if (!JSON_MEDIA.test(type)) {
					throw new ApiError(
						"unsupported_media_type",
						`Request bodies must be application/json; the Content-Type was '${type || "(none)"}'`,
					);
				}
			}
			await next();
		},
		bodyLimit({
			maxSize: MAX_BODY_BYTES,
			onError: () => {
				throw new ApiError("payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes`);
			},
		}),
	];
}

function acceptsJson(accept: string): boolean {
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
