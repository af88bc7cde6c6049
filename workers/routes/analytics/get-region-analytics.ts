import { z } from "@hono/zod-openapi";
import type { App } from "../../app.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { AnalyticsQuery, analyticsPageSchema, dateRange, MetricsShape, queryRollups } from "./query.ts";

export const RegionMetricsSchema = z
	.object({ serving_region: z.string(), ...MetricsShape })
	.openapi("RegionMetrics");

export const RegionAnalyticsSchema = analyticsPageSchema(RegionMetricsSchema, "RegionAnalytics");
export type RegionAnalyticsResponse = z.infer<typeof RegionAnalyticsSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/analytics/regions",
	tags: ["analytics"],
	summary: "Activity per serving region over a date range: projects, ledger transfers by kind, distributions",
	description:
		"Built by the analytics consumer from the event stream (eventually consistent, typically seconds behind). Needs `analytics:read`; a principal holding it for some regions or sectors sees the activity in those.",
	access: { permission: "analytics:read" },
	cost: 2,
	request: { query: AnalyticsQuery },
	responses: {
		200: {
			description: "Per-region totals (or per region and day)",
			content: { "application/json": { schema: RegionAnalyticsSchema } },
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
			"serving_region",
			query,
			range,
			c.var.principal.visibility("analytics:read"),
		);
		const body: RegionAnalyticsResponse = {
			...range,
			interval: query.interval,
			data: rows.map(({ group, ...metrics }) => ({ serving_region: group, ...metrics })),
		};
		return c.json(body, 200, { "cache-control": "private, max-age=30" });
	});
