import type { Context, MiddlewareHandler } from "hono";
import { createEventPublisher } from "../../queues/producer.ts";
import { type DbHandle, openDb } from "../db/client.ts";
import type { AppEnv } from "../lib/context.ts";

/**
 * Builds the per-request services: a request id (echoed as `x-request-id`), the serving region, a lazily
 * opened Postgres connection that is closed once the response is sent, and the event publisher.
 *
 * @example app.use("*", requestContext());
 */
export function requestContext(): MiddlewareHandler<AppEnv> {
	return async (c, next) => {
		const requestId = requestIdFor(c.req.header("x-request-id"));
		c.set("requestId", requestId);
		c.set("servingRegion", c.env.SERVING_REGION);
		let handle: DbHandle | undefined;
		c.set("db", () => {
			handle ??= openDb(c.env);
			return handle.db;
		});
		c.set(
			"events",
			createEventPublisher(c.env, { source: `covenant-edge/${c.env.SERVING_REGION}`, requestId }),
		);
		try {
			await next();
		} finally {
			if (handle) {
				const closing = handle.close();
				try {
					c.executionCtx.waitUntil(closing);
				} catch {
					await closing; // no execution context (direct app.request in tests)
				}
			}
		}
		setFinalHeader(c, "x-request-id", requestId);
	};
}

const REQUEST_ID = /^[\w.-]{1,128}$/;

/** The request's id: the client's `x-request-id` when it is a sane token, else a new UUID. */
export function requestIdFor(incoming: string | null | undefined): string {
	return incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}

/**
 * Sets a header on the response a handler already returned. Hono's c.header() copies the whole Response for
 * every header set after the handler (three copies per request with the rate limit's two headers, the largest
 * single cost of a cached read); the handlers' responses have mutable headers, so set them in place and only
 * fall back to c.header() for an immutable one (e.g. a fetch() passed through).
 */
export function setFinalHeader(c: Context<AppEnv>, name: string, value: string): void {
	if (!c.finalized) {
		c.header(name, value);
		return;
	}
	try {
		c.res.headers.set(name, value);
	} catch {
		c.header(name, value);
	}
}
