import { z } from "@hono/zod-openapi";
import type { App } from "../../app.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { AnalyticsQuery, analyticsPageSchema, dateRange, MetricsShape, queryRollups } from "./query.ts";

export const SectorMetricsSchema = z
	.object({
		sector: z
			.string()
			.nullable()
			.openapi({ description: "null: activity of no sector (e.g. contributions)" }),
		...MetricsShape,
	})
	.openapi("SectorMetrics");

export const SectorAnalyticsSchema = analyticsPageSchema(SectorMetricsSchema, "SectorAnalytics");
export type SectorAnalyticsResponse = z.infer<typeof SectorAnalyticsSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/analytics/sectors",
	tags: ["analytics"],
	summary: "Activity per sector over a date range: projects, ledger transfers by kind, distributions",
	description:
		"Built by the analytics consumer from the event stream (eventually consistent, typically seconds behind). Needs `analytics:read`; a principal holding it for some regions or sectors sees the activity in those.",
	access: { permission: "analytics:read" },
	cost: 2,
	request: { query: AnalyticsQuery },
	responses: {
		200: {
			description: "Per-sector totals (or per sector and day)",
			content: { "application/json": { schema: SectorAnalyticsSchema } },
		},
		...problemResponses(400, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const query = c.req.valid("query");
		const range = dateRange(query);
		const rows = await queryRollups(
			c.var.db(),
			"sector",
			query,
			range,
			c.var.principal.visibility("analytics:read"),
		);
		const body: SectorAnalyticsResponse = {
			...range,
			interval: query.interval,
			data: rows.map(({ group, ...metrics }) => ({ sector: group || null, ...metrics })),
		};
		return c.json(body, 200, { "cache-control": "private, max-age=30" });
	});
