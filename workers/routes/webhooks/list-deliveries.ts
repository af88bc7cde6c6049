import { z } from "@hono/zod-openapi";
import { and, desc, eq, or, type SQL, sql } from "drizzle-orm";
import type { App } from "../../app.ts";
import {
	DEFAULT_PAGE_SIZE,
	decodeCursor,
	fingerprint,
	MAX_PAGE_SIZE,
	toPage,
} from "../../db/queries/pagination.ts";
import { ATTEMPT_OUTCOMES, webhookAttempts, webhookMessages } from "../../db/schema/webhooks.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { splitCursorKey } from "./list-endpoints.ts";
import { DeliverySchema, EndpointIdParam, findEndpoint, presentDelivery } from "./schema.ts";

export const ListDeliveriesQuery = z
	.object({
		status: z.enum(ATTEMPT_OUTCOMES).optional().openapi({ description: "Only attempts with this outcome" }),
		message_id: z.uuid().optional().openapi({ description: "Only the attempts of this message" }),
		event_id: z
			.string()
			.min(1)
			.max(200)
			.optional()
			.openapi({ description: "Only the attempts for this event" }),
		cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
	})
	.strict();

export const DeliveryPageSchema = z
	.object({
		data: z.array(DeliverySchema),
		next_cursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next page; null on the last" }),
	})
	.openapi("WebhookDeliveryPage");
export type DeliveryPageResponse = z.infer<typeof DeliveryPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/webhooks/endpoints/{id}/deliveries",
	tags: ["webhooks"],
	summary: "Delivery attempts to an endpoint, newest first",
	description:
		"Every attempt: its outcome, the receiver's status code, duration, attempt number, error and when the next attempt is due. History is kept 30 days.",
	access: { permission: "webhooks:read" },
	request: { params: EndpointIdParam, query: ListDeliveriesQuery },
	responses: {
		200: {
			description: "A page of attempts",
			content: { "application/json": { schema: DeliveryPageSchema } },
		},
		...problemResponses(400, 404, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const db = c.var.db();
		const endpoint = await findEndpoint(db, c.var.principal, c.req.valid("param").id);
		const { status, message_id, event_id, cursor, limit } = c.req.valid("query");
		const print = fingerprint(
			JSON.stringify({
				endpoint: endpoint.id,
				status: status ?? null,
				message_id: message_id ?? null,
				event_id: event_id ?? null,
			}),
		);
		const after = decodeCursor(cursor, print);
		const conditions: (SQL | undefined)[] = [eq(webhookAttempts.endpointId, endpoint.id)];
		if (status) conditions.push(eq(webhookAttempts.outcome, status));
		if (message_id) conditions.push(eq(webhookAttempts.messageId, message_id));
		if (event_id) conditions.push(eq(webhookMessages.eventId, event_id));
		if (after !== undefined) {
			const [attemptedAt, id] = splitCursorKey(after);
			conditions.push(
				or(
					sql`${webhookAttempts.attemptedAt} < ${attemptedAt}::timestamptz`,
					and(
						sql`${webhookAttempts.attemptedAt} = ${attemptedAt}::timestamptz`,
						sql`${webhookAttempts.id} < ${id}::uuid`,
					),
				),
			);
		}
		const rows = await db
			.select({
				attempt: webhookAttempts,
				eventId: webhookMessages.eventId,
				eventType: webhookMessages.eventType,
			})
			.from(webhookAttempts)
			.innerJoin(webhookMessages, eq(webhookMessages.id, webhookAttempts.messageId))
			.where(and(...conditions))
			.orderBy(desc(webhookAttempts.attemptedAt), desc(webhookAttempts.id))
			.limit(limit + 1);
		const page: DeliveryPageResponse = toPage(
			rows,
			limit,
			(row) => `${row.attempt.attemptedAt.toISOString()}|${row.attempt.id}`,
			(row) => presentDelivery(row.attempt, row),
			print,
		);
		return c.json(page, 200, { "cache-control": "no-store" });
	});
