import { z } from "@hono/zod-openapi";
import { and, eq, ne, sql } from "drizzle-orm";
import type { App } from "../../app.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { webhookMessages } from "../../db/schema/webhooks.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { sendJobs } from "../../webhooks/dispatch.ts";
import { TEST_EVENT_TYPE } from "../../webhooks/filters.ts";
import {
	findEndpoint,
	IdempotencyHeaders,
	type MessageResponse,
	MessageSchema,
	presentMessage,
} from "./schema.ts";

export const MessageIdParam = z.object({
	id: z
		.uuid()
		.openapi({ param: { name: "id", in: "path" }, description: "A message id (from the deliveries list)" }),
});

export type RetryMessageResponse = MessageResponse;

export const route = defineRoute({
	method: "post",
	path: "/v1/webhooks/messages/{id}/retry",
	tags: ["webhooks"],
	summary: "Re-send one message (failed or already delivered) now",
	description:
		"Attempts the message again at once with its original `webhook-id` and body, on a fresh retry schedule. A message that is still pending answers 409 (it already has an attempt scheduled). With an Idempotency-Key, a repeated request answers the same scheduling instead of sending again.",
	access: { permission: "webhooks:write" },
	request: { params: MessageIdParam, headers: IdempotencyHeaders },
	responses: {
		202: { description: "Scheduled", content: { "application/json": { schema: MessageSchema } } },
		...problemResponses(400, 404, 406, 409),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		const idempotencyKey = c.req.valid("header")["idempotency-key"] ?? null;
		const result = await inTransaction(c.var.db(), async (tx) => {
			const [message] = await tx
				.select()
				.from(webhookMessages)
				.where(eq(webhookMessages.id, id))
				.for("update");
			if (!message) throw new ApiError("not_found", `No webhook message '${id}' that you can manage`);
			// Ownership is the endpoint's: another partner's message is 404, like a missing one.
			const endpoint = await findEndpoint(tx, c.var.principal, message.endpointId).catch(() => {
				throw new ApiError("not_found", `No webhook message '${id}' that you can manage`);
			});
			if (
				idempotencyKey !== null &&
				message.requestKey === idempotencyKey &&
				message.cycleTrigger === "retry"
			) {
				return { row: message, send: false };
			}
			if (message.status === "pending") {
				throw new ApiError(
					"conflict",
					`The message already has an attempt scheduled${message.nextAttemptAt ? ` at ${message.nextAttemptAt.toISOString()}` : ""}`,
				);
			}
			if (!endpoint.enabled && message.eventType !== TEST_EVENT_TYPE) {
				throw new ApiError("conflict", "The endpoint is disabled; enable it (PATCH enabled: true) first");
			}
			const [updated] = await tx
				.update(webhookMessages)
				.set({
					status: "pending",
					cycleAttempts: 0,
					cycleTrigger: "retry",
					nextAttemptAt: sql`now()`,
					dispatchId: crypto.randomUUID(),
					failedAt: null,
					requestKey: idempotencyKey,
					updatedAt: sql`now()`,
				})
				.where(and(eq(webhookMessages.id, message.id), ne(webhookMessages.status, "pending")))
				.returning();
			if (!updated) throw new ApiError("conflict", "The message was scheduled by another request meanwhile");
			return { row: updated, send: true };
		});
		if (result.send) {
			await sendJobs(c.env, [{ message_id: result.row.id, dispatch_id: result.row.dispatchId }]).catch(
				(error) =>
					console.error(
						JSON.stringify({ msg: "retry: dispatch deferred to the sweep", error: String(error) }),
					),
			);
		}
		const response: RetryMessageResponse = presentMessage(result.row);
		return c.json(response, 202, { "cache-control": "no-store" });
	});
