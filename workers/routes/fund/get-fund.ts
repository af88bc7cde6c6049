import { z } from "@hono/zod-openapi";
import { SECTOR_SLUGS } from "../../../queues/envelope.ts";
import type { App } from "../../app.ts";
import { Period } from "../../domain/fund/period.ts";
import { SERVING_REGIONS } from "../../domain/serving-regions.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { emptyTotals, type FundTotals, fundTotals, projectionCompleteness } from "./projection.ts";

const Cents = z.number().int();

const TotalsSchema = z.object({
	contributed_cents: Cents.openapi({ description: "Contributions paid into the fund, less reversals" }),
	assessed_cents: Cents.openapi({ description: "Contributions assessed (scheduled), less reversals" }),
	distributed_cents: Cents.openapi({
		description: "Project profits distributed to the nations, less reversals",
	}),
	disbursed_cents: Cents.openapi({ description: "Covenant money disbursed to projects, less reversals" }),
	balance_cents: Cents.openapi({
		description:
			"contributed − disbursed: contributions not yet disbursed to projects (distributed profits pass through the fund to the nations and do not draw on it)",
	}),
});

export const FundSchema = z
	.object({
		period: z
			.string()
			.nullable()
			.openapi({ description: "The contribution year the totals are limited to; null for all time" }),
		currency: z.literal("USD"),
		totals: TotalsSchema,
		by_serving_region: z.array(TotalsSchema.extend({ serving_region: z.enum(SERVING_REGIONS) })).openapi({
			description: "Per serving region of the nations whose books hold the money (the regions you may see)",
		}),
		by_sector: z
			.array(
				z.object({
					sector: z.enum(SECTOR_SLUGS),
					distributed_cents: Cents,
					disbursed_cents: Cents,
				}),
			)
			.openapi({
				description:
					"Per sector of the project the money concerns (the sectors you may see). Contributions are paid to the fund, not to a sector, so only project flows appear here.",
			}),
		projection: z.object({
			complete_through: z.string().nullable().openapi({
				format: "date-time",
				description:
					"Every ledger entry recorded up to this time is counted, as far as the ledgers' projection drains have reported (docs/fund.md); null before anything was projected",
			}),
			lagging_nations: z
				.number()
				.int()
				.openapi({ description: "Ledgers whose last drain left entries behind" }),
			nations: z.number().int().openapi({ description: "Ledgers that have projected at least one entry" }),
		}),
	})
	.openapi("Fund");
export type GetFundResponse = z.infer<typeof FundSchema>;

export const FundQuery = z
	.object({
		period: Period.optional().openapi({
			description: "Limit the totals to one contribution year (`YYYY`)",
			example: "2026",
		}),
	})
	.strict();

export const route = defineRoute({
	method: "get",
	path: "/v1/fund",
	tags: ["fund"],
	summary:
		"The covenant fund: contributed, distributed, disbursed and balance, overall, per serving region and per sector",
	description:
		"Computed from the ledgers' Postgres projection, so it trails the ledgers by the projection lag: `projection.complete_through` says up to when it is complete. The overall totals are shown to everyone with fund:read; the breakdowns only for the serving regions and sectors within the caller's scopes.",
	access: { permission: "fund:read" },
	cost: 5,
	request: { query: FundQuery },
	responses: {
		200: { description: "The fund", content: { "application/json": { schema: FundSchema } } },
		...problemResponses(400, 503),
	},
});

function withBalance(totals: FundTotals) {
	return { ...totals, balance_cents: totals.contributed_cents - totals.disbursed_cents };
}

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { period } = c.req.valid("query");
		const visibility = c.var.principal.visibility("fund:read");
		const db = c.var.db();
		const [breakdown, projection] = await Promise.all([fundTotals(db, period), projectionCompleteness(db)]);
		const regions = SERVING_REGIONS.filter((r) => visibility.all || visibility.regions.includes(r));
		const sectors = SECTOR_SLUGS.filter((s) => visibility.all || visibility.sectors.includes(s));
		c.header("cache-control", "no-store");
		return c.json<GetFundResponse, 200>(
			{
				period: period ?? null,
				currency: "USD",
				totals: withBalance(breakdown.overall),
				by_serving_region: regions.map((serving_region) => ({
					serving_region,
					...withBalance(breakdown.by_region.get(serving_region) ?? emptyTotals()),
				})),
				by_sector: sectors.map((sector) => {
					const totals = breakdown.by_sector.get(sector) ?? emptyTotals();
					return {
						sector,
						distributed_cents: totals.distributed_cents,
						disbursed_cents: totals.disbursed_cents,
					};
				}),
				projection,
			},
			200,
		);
	});
