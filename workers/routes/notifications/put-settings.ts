import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { SECTOR_SLUGS } from "../../../queues/envelope.ts";
import type { App } from "../../app.ts";
import { strictBody } from "../../cache/index.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { NOTIFICATION_CATEGORIES, notificationSettings } from "../../db/schema/notifications.ts";
import { SERVING_REGIONS } from "../../domain/serving-regions.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { NotificationSettingsSchema, presentSettings } from "./schema.ts";

const uniqueList = <T extends z.ZodType<string>>(item: T, max: number) =>
	z
		.array(item)
		.max(max)
		.transform((values) => [...new Set(values)].sort());

export const PutSettingsBody = strictBody(
	{
		enabled: z.boolean(),
		sectors: uniqueList(z.enum(SECTOR_SLUGS), SECTOR_SLUGS.length),
		regions: uniqueList(z.enum(SERVING_REGIONS), SERVING_REGIONS.length),
		nations: uniqueList(z.string().regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code, upper case"), 195),
		categories: uniqueList(z.enum(NOTIFICATION_CATEGORIES), NOTIFICATION_CATEGORIES.length),
	},
	["version", "updated_at"],
).openapi("PutNotificationSettings");
export type PutSettingsRequest = z.input<typeof PutSettingsBody>;

export const route = defineRoute({
	method: "put",
	path: "/v1/me/notification-settings",
	tags: ["notifications"],
	summary: "Replace your notification settings: what you follow and which kinds of notification you get",
	description:
		"You are notified of an event in one of your categories when it names a sector, serving region or nation you follow (`projects`: new projects and status changes; `distributions`; `alerts`: anomalies; `announcements`: operators' messages, which can also name you directly). Every field is required (a PUT replaces the whole). Sending the same settings again changes nothing.",
	access: { permission: "profile:write" },
	request: { body: { required: true, content: { "application/json": { schema: PutSettingsBody } } } },
	responses: {
		200: {
			description: "Your settings",
			content: { "application/json": { schema: NotificationSettingsSchema } },
		},
		...problemResponses(400, 406, 413, 415, 422),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const body = c.req.valid("json");
		const userId = c.var.principal.subject;
		const row = await inTransaction(c.var.db(), async (tx) => {
			if (body.nations.length > 0) {
				const known = await tx.execute<{ iso2: string }>(
					sql`select iso2 from nations where iso2 = any(${sql.param(body.nations)}::text[])`,
				);
				const found = new Set(known.rows.map((r) => r.iso2));
				const unknown = body.nations.filter((n) => !found.has(n));
				if (unknown.length > 0) {
					throw new ApiError("unprocessable", `No nation with code ${unknown.join(", ")}`, {
						errors: unknown.map((n) => ({
							path: ["nations", body.nations.indexOf(n)],
							message: "unknown nation",
							code: "custom",
						})),
					});
				}
			}
			const values = { userId, ...body };
			const [saved] = await tx
				.insert(notificationSettings)
				.values(values)
				.onConflictDoUpdate({
					target: notificationSettings.userId,
					set: {
						enabled: body.enabled,
						sectors: body.sectors,
						regions: body.regions,
						nations: body.nations,
						categories: body.categories,
						// A PUT of the same settings is not a change: neither the version nor the timestamp moves.
						version: sql`case when ${changedFromStored()} then ${notificationSettings.version} + 1 else ${notificationSettings.version} end`,
						updatedAt: sql`case when ${changedFromStored()} then now() else ${notificationSettings.updatedAt} end`,
					},
				})
				.returning();
			return saved;
		});
		return c.json(presentSettings(row), 200);
	});

function changedFromStored() {
	const s = notificationSettings;
	return sql`(${s.enabled}, ${s.sectors}, ${s.regions}, ${s.nations}, ${s.categories}) is distinct from (excluded.enabled, excluded.sectors, excluded.regions, excluded.nations, excluded.categories)`;
}
