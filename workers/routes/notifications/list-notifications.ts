import { z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import type { App } from "../../app.ts";
import {
	DEFAULT_PAGE_SIZE,
	decodeCursor,
	fingerprint,
	MAX_PAGE_SIZE,
	toPage,
} from "../../db/queries/pagination.ts";
import { DELIVERY_STATUSES, notificationDeliveries } from "../../db/schema/notifications.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { DeliverySchema, presentDelivery } from "./schema.ts";

export const ListNotificationsQuery = z
	.object({
		status: z.enum(DELIVERY_STATUSES).optional(),
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
	.openapi("NotificationDeliveryPage");
export type DeliveryPageResponse = z.infer<typeof DeliveryPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/me/notifications",
	tags: ["notifications"],
	summary: "The pushes sent to your devices, newest first, with what each push service answered",
	access: { permission: "profile:read" },
	request: { query: ListNotificationsQuery },
	responses: {
		200: {
			description: "A page of deliveries",
			content: { "application/json": { schema: DeliveryPageSchema } },
		},
		...problemResponses(400, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { cursor, limit, status } = c.req.valid("query");
		const print = fingerprint(JSON.stringify({ status: status ?? null }));
		const after = decodeCursor(cursor, print);
		let afterId: number | undefined;
		if (after !== undefined) {
			afterId = Number(after);
			if (!Number.isSafeInteger(afterId)) {
				throw new ApiError(
					"invalid_request",
					"The cursor is not valid here: it is not a cursor this API issued",
				);
			}
		}
		const rows = await c.var
			.db()
			.select()
			.from(notificationDeliveries)
			.where(
				and(
					eq(notificationDeliveries.userId, c.var.principal.subject),
					status ? eq(notificationDeliveries.status, status) : undefined,
					afterId !== undefined ? lt(notificationDeliveries.id, afterId) : undefined,
				),
			)
			.orderBy(desc(notificationDeliveries.id))
			.limit(limit + 1);
		const page = toPage(rows, limit, (row) => String(row.id), presentDelivery, print);
		return c.json(page, 200, { "cache-control": "no-store" });
	});
