import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { App } from "../../app.ts";
import { strictBody } from "../../cache/index.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { sendJobs } from "../../webhooks/dispatch.ts";
import { EndpointIdParam, findEndpoint } from "./schema.ts";

/** Messages re-sent per call; a larger backlog answers `has_more` and the next call continues. */
export const RECOVER_BATCH = 1000;

export const RecoverBody = strictBody(
	{
		since: z.iso.datetime({ offset: true }).openapi({
			example: "2026-11-20T08:00:00Z",
			description: "Re-send the failed messages created at or after this time",
		}),
		until: z.iso
			.datetime({ offset: true })
			.optional()
			.openapi({ description: "...and before this time (default: now)" }),
	},
	[],
).openapi("RecoverWebhookEndpoint");
export type RecoverRequest = z.input<typeof RecoverBody>;

export const RecoverSchema = z
	.object({
		recovered: z.number().int().openapi({ description: "Failed messages scheduled again by this call" }),
		has_more: z.boolean().openapi({ description: "More failed messages remain in the window: call again" }),
	})
	.openapi("WebhookRecovery");
export type RecoverResponse = z.infer<typeof RecoverSchema>;

export const route = defineRoute({
	method: "post",
	path: "/v1/webhooks/endpoints/{id}/recover",
	tags: ["webhooks"],
	summary: "Re-send every failed message since a time (after an outage of your receiver)",
	description: `Every message to this endpoint that ended failed (retries exhausted, rejected, or the endpoint disabled) and was created in [since, until) is attempted again at once, with its original \`webhook-id\` and body, on a fresh retry schedule. At most ${RECOVER_BATCH} per call (\`has_more\` says to call again). Calling twice re-sends nothing twice: recovered messages are no longer failed. The endpoint must be enabled.`,
	access: { permission: "webhooks:write" },
	request: {
		params: EndpointIdParam,
		body: { required: true, content: { "application/json": { schema: RecoverBody } } },
	},
	responses: {
		202: { description: "Scheduled", content: { "application/json": { schema: RecoverSchema } } },
		...problemResponses(400, 404, 406, 409, 413, 415),
	},
	cost: 10,
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		const body = c.req.valid("json");
		const since = new Date(body.since);
		const until = body.until ? new Date(body.until) : new Date();
		if (since.getTime() > Date.now() || until.getTime() <= since.getTime()) {
			throw new ApiError("invalid_request", "since must be in the past and before until", {
				errors: [
					{ path: ["since"], message: "must be in the past and before until", code: "invalid_window" },
				],
			});
		}
		const db = c.var.db();
		const result = await inTransaction(db, async (tx) => {
			const endpoint = await findEndpoint(tx, c.var.principal, id, { lock: true });
			if (!endpoint.enabled) {
				throw new ApiError(
					"conflict",
					"The endpoint is disabled; enable it (PATCH enabled: true) before recovering its messages",
				);
			}
			const window = sql`endpoint_id = ${endpoint.id} and status = 'failed'
				and created_at >= ${since.toISOString()}::timestamptz and created_at < ${until.toISOString()}::timestamptz`;
			const recovered = await tx.execute<{ id: string; dispatch_id: string }>(sql`
				update webhook_messages m set status = 'pending', cycle_attempts = 0, cycle_trigger = 'recover',
					next_attempt_at = now(), dispatch_id = gen_random_uuid(), failed_at = null, updated_at = now()
				where m.id in (
					select id from webhook_messages where ${window}
					order by created_at limit ${RECOVER_BATCH} for update skip locked)
				returning m.id, m.dispatch_id`);
			const left = await tx.execute<{ more: boolean }>(
				sql`select exists (select 1 from webhook_messages where ${window}) as more`,
			);
			return {
				jobs: recovered.rows.map((r) => ({ message_id: r.id, dispatch_id: r.dispatch_id })),
				hasMore: left.rows[0]?.more === true,
			};
		});
		// Committed first: if this send fails, the sweep dispatches the (now pending, overdue) messages.
		await sendJobs(c.env, result.jobs).catch((error) =>
			console.error(JSON.stringify({ msg: "recover: dispatch deferred to the sweep", error: String(error) })),
		);
		const response: RecoverResponse = { recovered: result.jobs.length, has_more: result.hasMore };
		return c.json(response, 202, { "cache-control": "no-store" });
	});
