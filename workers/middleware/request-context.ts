import type { MiddlewareHandler } from "hono";
import { openDb, type DbHandle } from "../db/client.ts";
import type { AppEnv } from "../lib/context.ts";
import { createEventPublisher } from "../../queues/producer.ts";

/**
 * Builds the per-request services: a request id (echoed as `x-request-id`), the serving region, a lazily
 * opened Postgres connection that is closed once the response is sent, and the event publisher.
 *
 * @example app.use("*", requestContext());
 */
export function requestContext(): MiddlewareHandler<AppEnv> {
	return async (c, next) => {
		const incoming = c.req.header("x-request-id");
		const requestId = incoming && /^[\w.-]{1,128}$/.test(incoming) ? incoming : crypto.randomUUID();
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
		c.header("x-request-id", requestId);
	};
}
