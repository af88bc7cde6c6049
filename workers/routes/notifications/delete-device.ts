import { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import type { App } from "../../app.ts";
import { notificationDevices } from "../../db/schema/notifications.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";

export const DeviceParams = z.object({
	id: z
		.string()
		.uuid()
		.openapi({ param: { name: "id", in: "path" } }),
});

export const route = defineRoute({
	method: "delete",
	path: "/v1/me/devices/{id}",
	tags: ["notifications"],
	summary: "Unregister one of your devices (its pending pushes are dropped)",
	access: { permission: "profile:write" },
	request: { params: DeviceParams },
	responses: {
		204: { description: "Removed" },
		...problemResponses(400, 404, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		const removed = await c.var
			.db()
			.delete(notificationDevices)
			.where(and(eq(notificationDevices.id, id), eq(notificationDevices.userId, c.var.principal.subject)))
			.returning({ id: notificationDevices.id });
		// Someone else's device answers the same as a missing one: ids reveal nothing.
		if (removed.length === 0) throw new ApiError("not_found", `You have no device ${id}`);
		return c.body(null, 204);
	});
