import { eq } from "drizzle-orm";
import type { App } from "../../app.ts";
import { notificationSettings } from "../../db/schema/notifications.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { NotificationSettingsSchema, presentSettings } from "./schema.ts";

export const route = defineRoute({
	method: "get",
	path: "/v1/me/notification-settings",
	tags: ["notifications"],
	summary: "Your notification settings (the defaults until you save some)",
	access: { permission: "profile:read" },
	responses: {
		200: {
			description: "Your settings",
			content: { "application/json": { schema: NotificationSettingsSchema } },
		},
		...problemResponses(406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const [row] = await c.var
			.db()
			.select()
			.from(notificationSettings)
			.where(eq(notificationSettings.userId, c.var.principal.subject));
		return c.json(presentSettings(row), 200, { "cache-control": "no-store" });
	});
