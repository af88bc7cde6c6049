import { z } from "@hono/zod-openapi";
import { type SQL, sql } from "drizzle-orm";
import { SECTOR_SLUGS } from "../../../queues/envelope.ts";
import type { Visibility } from "../../auth/permissions.ts";
import type { Database } from "../../db/client.ts";
import { SERVING_REGIONS } from "../../domain/serving-regions.ts";
import { ApiError } from "../../lib/problem.ts";

export const MAX_RANGE_DAYS = 366;
const DEFAULT_RANGE_DAYS = 30;

const IsoDate = z.iso.date().openapi({ example: "2026-01-31" });

/** The query every analytics route takes: an inclusive UTC date range, filters, and total or per-day rows. */
export const AnalyticsQuery = z
	.object({
		from: IsoDate.optional().openapi({
			description: "First day (UTC), inclusive; default: 29 days before `to`",
		}),
		to: IsoDate.optional().openapi({ description: "Last day (UTC), inclusive; default: today" }),
		sector: z.enum(SECTOR_SLUGS).optional(),
		serving_region: z.enum(SERVING_REGIONS).optional(),
		interval: z.enum(["total", "day"]).default("total").openapi({
			description: "`total`: one row per group over the range; `day`: one row per group and day",
		}),
	})
	.strict();
export type AnalyticsQuery = z.infer<typeof AnalyticsQuery>;

const Cents = z.number().int().openapi({ description: "US cents" });

export const TransferTotalsSchema = z.record(
	z.string().openapi({ description: "Transfer kind" }),
	z.object({ count: z.number().int(), amount_cents: Cents }),
);

export const MetricsShape = {
	day: z.string().nullable().openapi({ description: "The day, with interval=day; null for totals" }),
	projects_created: z.number().int(),
	projects_updated: z.number().int(),
	distributions: z.number().int(),
	distributions_cents: Cents,
	transfers: TransferTotalsSchema.openapi({ description: "Ledger transfers posted, by kind" }),
};

export function analyticsPageSchema<S extends z.ZodType>(item: S, name: string) {
	return z
		.object({
			from: z.string(),
			to: z.string(),
			interval: z.enum(["total", "day"]),
			data: z.array(item),
		})
		.openapi(name);
}

const DAY_MS = 86_400_000;

/** The validated, defaulted date range. */
export function dateRange(query: AnalyticsQuery, now = new Date()): { from: string; to: string } {
	const to = query.to ?? now.toISOString().slice(0, 10);
	const from =
		query.from ?? new Date(Date.parse(to) - (DEFAULT_RANGE_DAYS - 1) * DAY_MS).toISOString().slice(0, 10);
	const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
	if (days < 1) throw new ApiError("invalid_request", "`from` must not be after `to`");
	if (days > MAX_RANGE_DAYS) {
		throw new ApiError(
			"invalid_request",
			`The range spans ${days} days; at most ${MAX_RANGE_DAYS} are allowed`,
		);
	}
	return { from, to };
}

export interface MetricsRow {
	group: string;
	day: string | null;
	projects_created: number;
	projects_updated: number;
	distributions: number;
	distributions_cents: number;
	transfers: Record<string, { count: number; amount_cents: number }>;
}

/** A sum of cents must stay an exact JavaScript integer; beyond 2^53 the API would lie, so it refuses. */
function exactInteger(value: string | number): number {
	const n = Number(value);
	if (!Number.isSafeInteger(n))
		throw new Error(`an analytics total (${value}) exceeds the exact integer range`);
	return n;
}

/**
 * Rollups summed by sector or by serving region over the range (and per day with interval=day), limited to
 * what the caller may see: rows in a visible region or sector (the rollups are per region × sector, so a
 * nation-scoped grant covers none of them).
 */
export async function queryRollups(
	db: Database,
	groupBy: "sector" | "serving_region",
	query: AnalyticsQuery,
	range: { from: string; to: string },
	visibility: Visibility,
): Promise<MetricsRow[]> {
	const column = groupBy === "sector" ? sql.raw("sector") : sql.raw("serving_region");
	const perDay = query.interval === "day";
	const conditions: SQL[] = [sql`day between ${range.from}::date and ${range.to}::date`];
	if (query.sector) conditions.push(sql`sector = ${query.sector}`);
	if (query.serving_region) conditions.push(sql`serving_region = ${query.serving_region}`);
	if (!visibility.all) {
		conditions.push(
			sql`(serving_region = any(${sql.param(visibility.regions)}::text[]) or sector = any(${sql.param(visibility.sectors)}::text[]))`,
		);
	}
	const where = sql.join(conditions, sql` and `);
	const dayColumn = perDay ? sql`day::text` : sql`null::text`;
	const groupDay = perDay ? sql`, day` : sql``;

	const daily = await db.execute<{
		grp: string;
		day: string | null;
		projects_created: string;
		projects_updated: string;
		distributions: string;
		distributions_cents: string;
	}>(sql`
		select ${column} as grp, ${dayColumn} as day,
			sum(projects_created)::bigint as projects_created, sum(projects_updated)::bigint as projects_updated,
			sum(distributions)::bigint as distributions, sum(distributions_cents)::bigint as distributions_cents
		from analytics_daily where ${where}
		group by ${column}${groupDay}`);
	const transfers = await db.execute<{
		grp: string;
		day: string | null;
		kind: string;
		count: string;
		amount_cents: string;
	}>(sql`
		select ${column} as grp, ${dayColumn} as day, kind,
			sum(transfers)::bigint as count, sum(amount_cents)::bigint as amount_cents
		from analytics_daily_transfers where ${where}
		group by ${column}${groupDay}, kind`);

	const rows = new Map<string, MetricsRow>();
	const rowFor = (group: string, day: string | null) => {
		const key = `${group}|${day ?? ""}`;
		let row = rows.get(key);
		if (!row) {
			row = {
				group,
				day,
				projects_created: 0,
				projects_updated: 0,
				distributions: 0,
				distributions_cents: 0,
				transfers: {},
			};
			rows.set(key, row);
		}
		return row;
	};
	for (const r of daily.rows) {
		const row = rowFor(r.grp, r.day);
		row.projects_created = exactInteger(r.projects_created);
		row.projects_updated = exactInteger(r.projects_updated);
		row.distributions = exactInteger(r.distributions);
		row.distributions_cents = exactInteger(r.distributions_cents);
	}
	for (const r of transfers.rows) {
		rowFor(r.grp, r.day).transfers[r.kind] = {
			count: exactInteger(r.count),
			amount_cents: exactInteger(r.amount_cents),
		};
	}
	return [...rows.values()].sort(
		(a, b) => a.group.localeCompare(b.group) || (a.day ?? "").localeCompare(b.day ?? ""),
	);
}
