import { z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import type { App } from "../../app.ts";
import { webhookAttempts, webhookMessages } from "../../db/schema/webhooks.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { processDelivery } from "../../webhooks/delivery.ts";
import { sendJobs } from "../../webhooks/dispatch.ts";
import { messageBody } from "../../webhooks/fanout.ts";
import { TEST_EVENT_TYPE } from "../../webhooks/filters.ts";
import {
	DeliverySchema,
	EndpointIdParam,
	findEndpoint,
	IdempotencyHeaders,
	MessageSchema,
	presentDelivery,
	presentMessage,
} from "./schema.ts";

export const TestSendSchema = z
	.object({
		message: MessageSchema,
		delivery: DeliverySchema.nullable().openapi({
			description:
				"Its latest attempt: the first one, made before answering (a repeated request sees later ones)",
		}),
	})
	.openapi("WebhookTestSend");
export type TestSendResponse = z.infer<typeof TestSendSchema>;

export const route = defineRoute({
	method: "post",
	path: "/v1/webhooks/endpoints/{id}/test",
	tags: ["webhooks"],
	summary: "Send a signed test message to the endpoint and report the first attempt",
	description: `Sends a \`${TEST_EVENT_TYPE}\` message, signed like every delivery, and answers once the first attempt is over (at most 15 s): its status code, duration and error. A retryable failure is retried on the normal schedule. Works on a disabled endpoint too, to check a fix before re-enabling it. With an Idempotency-Key, a repeated request answers the same message instead of sending another.`,
	access: { permission: "webhooks:write" },
	request: { params: EndpointIdParam, headers: IdempotencyHeaders },
	responses: {
		200: {
			description: "The test message and its first attempt",
			content: { "application/json": { schema: TestSendSchema } },
		},
		...problemResponses(400, 404, 406),
	},
	// An outbound request of up to 15 s: a test costs more than a read.
	cost: 5,
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const db = c.var.db();
		const endpoint = await findEndpoint(db, c.var.principal, c.req.valid("param").id);
		const idempotencyKey = c.req.valid("header")["idempotency-key"] ?? null;

		const [earlier] = idempotencyKey
			? await db
					.select()
					.from(webhookMessages)
					.where(
						and(
							eq(webhookMessages.endpointId, endpoint.id),
							eq(webhookMessages.eventType, TEST_EVENT_TYPE),
							eq(webhookMessages.requestKey, idempotencyKey),
						),
					)
			: [];
		let messageId = earlier?.id;
		if (!messageId) {
			const now = new Date();
			const eventId = `test_${crypto.randomUUID()}`;
			const [created] = await db
				.insert(webhookMessages)
				.values({
					endpointId: endpoint.id,
					eventId,
					eventType: TEST_EVENT_TYPE,
					body: messageBody({
						id: eventId,
						type: TEST_EVENT_TYPE,
						time: now.toISOString(),
						subject: `webhooks/endpoints/${endpoint.id}`,
						data: {
							endpoint_id: endpoint.id,
							message: "A test message from Covenant Edge. Verify its signature with your endpoint's secret.",
						},
					}),
					status: "pending",
					cycleTrigger: "test",
					nextAttemptAt: now,
					dispatchId: crypto.randomUUID(),
					requestKey: idempotencyKey,
					createdAt: now,
					updatedAt: now,
				})
				.returning();
			if (!created) throw new Error("test message insert returned no row");
			messageId = created.id;
			const outcome = await processDelivery(c.env, db, {
				message_id: created.id,
				dispatch_id: created.dispatchId,
			});
			if (outcome.action === "retry") {
				await sendJobs(
					c.env,
					[{ message_id: created.id, dispatch_id: created.dispatchId }],
					outcome.delaySeconds,
				);
			}
		}

		const [message] = await db.select().from(webhookMessages).where(eq(webhookMessages.id, messageId));
		if (!message) throw new Error(`test message ${messageId} vanished`);
		const [attempt] = await db
			.select()
			.from(webhookAttempts)
			.where(eq(webhookAttempts.messageId, message.id))
			.orderBy(desc(webhookAttempts.attempt))
			.limit(1);
		const response: TestSendResponse = {
			message: presentMessage(message),
			delivery: attempt ? presentDelivery(attempt, message) : null,
		};
		return c.json(response, 200, { "cache-control": "no-store" });
	});
