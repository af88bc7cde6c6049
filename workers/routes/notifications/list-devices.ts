import { z } from "@hono/zod-openapi";
import { asc, eq } from "drizzle-orm";
import type { App } from "../../app.ts";
import { notificationDevices } from "../../db/schema/notifications.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { DeviceSchema, presentDevice } from "./schema.ts";

export const DeviceListSchema = z.object({ data: z.array(DeviceSchema) }).openapi("DeviceList");
export type DeviceListResponse = z.infer<typeof DeviceListSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/me/devices",
	tags: ["notifications"],
	summary: "Your registered devices, oldest first (at most 20, so one page)",
	access: { permission: "profile:read" },
	responses: {
		200: { description: "Your devices", content: { "application/json": { schema: DeviceListSchema } } },
		...problemResponses(406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const rows = await c.var
			.db()
			.select()
			.from(notificationDevices)
			.where(eq(notificationDevices.userId, c.var.principal.subject))
			.orderBy(asc(notificationDevices.createdAt), asc(notificationDevices.id));
		return c.json({ data: rows.map(presentDevice) } satisfies DeviceListResponse, 200, {
			"cache-control": "no-store",
		});
	});
