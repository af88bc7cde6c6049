import { z } from "@hono/zod-openapi";
import { and, asc, eq, inArray, or, type SQL } from "drizzle-orm";
import type { App } from "../../app.ts";
import { decodeCursor, encodeCursor, fingerprint } from "../../db/queries/pagination.ts";
import { contributionSchedules } from "../../db/schema/contributions.ts";
import { nations } from "../../db/schema/nations.ts";
import { CONTRIBUTION_STATUSES, contributionStatus, utcDate } from "../../domain/fund/contributions.ts";
import { Period } from "../../domain/fund/period.ts";
import { nationFilterOf } from "../../lib/nation-filter.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { paidContributions, projectionCompleteness } from "../fund/projection.ts";

const MAX_PAGE = 200;

export const ListContributionsQuery = z
	.object({
		period: Period.optional().openapi({
			description: "The contribution year, `YYYY`; default: the current year (UTC)",
			example: "2026",
		}),
		status: z.enum(CONTRIBUTION_STATUSES).optional(),
		nation: z
			.string()
			.regex(/^[A-Za-z]{2,3}$/, { error: "expected an ISO 3166-1 alpha-2 or alpha-3 code" })
			.optional(),
		cursor: z
			.string()
			.max(512)
			.optional()
			.openapi({ description: "next_cursor of the previous page (same filters)" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(MAX_PAGE),
	})
	.strict();

const Cents = z.number().int();

export const ContributionSchema = z
	.object({
		nation: z.string(),
		name: z.string(),
		serving_region: z.string(),
		period: z.string(),
		amount_due_cents: Cents.openapi({ description: "What the nation was assessed for the period" }),
		paid_cents: Cents.openapi({
			description: "Contributions paid for the period, from the ledger projection",
		}),
		outstanding_cents: Cents,
		status: z.enum(CONTRIBUTION_STATUSES).openapi({
			description:
				"`paid` once paid_cents reaches amount_due_cents; else `overdue` after due_date (UTC), `due` until then",
		}),
		due_date: z.string().openapi({ format: "date" }),
		last_paid_at: z.string().nullable().openapi({ format: "date-time" }),
		assessment: z.object({
			transfer_id: z.string(),
			ledger_sequence: z
				.number()
				.int()
				.nullable()
				.openapi({ description: "null until the nation's ledger recorded it" }),
		}),
	})
	.openapi("Contribution");

export const ContributionPageSchema = z
	.object({
		period: z.string(),
		as_of: z.string().openapi({ format: "date", description: "The UTC date statuses were judged on" }),
		summary: z
			.object({
				nations: z.number().int(),
				amount_due_cents: Cents,
				paid_cents: Cents,
				outstanding_cents: Cents,
				due: z.number().int(),
				paid: z.number().int(),
				overdue: z.number().int(),
			})
			.openapi({ description: "Over every contribution matching the filters (all pages)" }),
		data: z.array(ContributionSchema),
		next_cursor: z.string().nullable(),
		projection: z.object({
			complete_through: z.string().nullable().openapi({
				format: "date-time",
				description: "Payments recorded on the ledgers up to this time are counted (docs/fund.md)",
			}),
		}),
	})
	.openapi("ContributionPage");
export type ListContributionsResponse = z.infer<typeof ContributionPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/contributions",
	tags: ["contributions"],
	summary: "A year's contributions per nation: due, paid and overdue",
	description:
		"One row per scheduled nation (POST /v1/contributions/schedule), in nation order, with what it owes and what it has paid for the period according to the ledgers' projection. A governor sees its own nation, a regional officer its serving region's nations. Keyset-paginated.",
	access: { permission: "contributions:read" },
	cost: 3,
	request: { query: ListContributionsQuery },
	responses: {
		200: {
			description: "A page of contributions",
			content: { "application/json": { schema: ContributionPageSchema } },
		},
		...problemResponses(400, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const query = c.req.valid("query");
		const today = utcDate(Date.now());
		const period = query.period ?? today.slice(0, 4);
		const nationFilter = nationFilterOf(query.nation);
		const filters = `${period}|${query.status ?? ""}|${nationFilter ?? ""}`;
		const after = decodeCursor(query.cursor, fingerprint(filters));

		const visibility = c.var.principal.visibility("contributions:read");
		const conditions: SQL[] = [eq(contributionSchedules.period, period)];
		if (nationFilter) conditions.push(eq(contributionSchedules.nationIso2, nationFilter));
		if (!visibility.all) {
			const visible = [
				visibility.nations.length > 0
					? inArray(contributionSchedules.nationIso2, visibility.nations)
					: undefined,
				visibility.regions.length > 0 ? inArray(nations.servingRegion, visibility.regions) : undefined,
			].filter((condition) => condition !== undefined);
			if (visible.length === 0) return c.json<ListContributionsResponse, 200>(emptyPage(period, today), 200);
			conditions.push(or(...visible) as SQL);
		}
		const db = c.var.db();
		const [rows, paid, projection] = await Promise.all([
			db
				.select({
					nation: contributionSchedules.nationIso2,
					name: nations.name,
					servingRegion: nations.servingRegion,
					amount: contributionSchedules.amountCents,
					dueDate: contributionSchedules.dueDate,
					transferId: contributionSchedules.transferId,
					ledgerSequence: contributionSchedules.ledgerSequence,
				})
				.from(contributionSchedules)
				.innerJoin(nations, eq(nations.iso2, contributionSchedules.nationIso2))
				.where(and(...conditions))
				.orderBy(asc(contributionSchedules.nationIso2)),
			paidContributions(db, period),
			projectionCompleteness(db),
		]);
		const paidBy = new Map(paid.map((p) => [p.nation, p]));
		// At most one row per nation (195), so statuses are judged here, by the one rule, before filtering.
		const contributions = rows
			.map((row) => {
				const payment = paidBy.get(row.nation);
				const paidCents = payment?.paid_cents ?? 0;
				return {
					nation: row.nation,
					name: row.name,
					serving_region: row.servingRegion,
					period,
					amount_due_cents: row.amount,
					paid_cents: paidCents,
					outstanding_cents: Math.max(0, row.amount - paidCents),
					status: contributionStatus({ amountDueCents: row.amount, paidCents, dueDate: row.dueDate, today }),
					due_date: row.dueDate,
					last_paid_at: payment?.last_paid_at ?? null,
					assessment: { transfer_id: row.transferId, ledger_sequence: row.ledgerSequence },
				};
			})
			.filter((row) => query.status === undefined || row.status === query.status);

		const summary = {
			nations: 0,
			amount_due_cents: 0,
			paid_cents: 0,
			outstanding_cents: 0,
			due: 0,
			paid: 0,
			overdue: 0,
		};
		for (const row of contributions) {
			summary.nations += 1;
			summary.amount_due_cents += row.amount_due_cents;
			summary.paid_cents += row.paid_cents;
			summary.outstanding_cents += row.outstanding_cents;
			summary[row.status] += 1;
		}
		const remaining = after === undefined ? contributions : contributions.filter((row) => row.nation > after);
		const page = remaining.slice(0, query.limit);
		const last = page.at(-1);
		c.header("cache-control", "no-store");
		return c.json<ListContributionsResponse, 200>(
			{
				period,
				as_of: today,
				summary,
				data: page,
				next_cursor:
					remaining.length > page.length && last ? encodeCursor(last.nation, fingerprint(filters)) : null,
				projection: { complete_through: projection.complete_through },
			},
			200,
		);
	});

function emptyPage(period: string, today: string): ListContributionsResponse {
	return {
		period,
		as_of: today,
		summary: {
			nations: 0,
			amount_due_cents: 0,
			paid_cents: 0,
			outstanding_cents: 0,
			due: 0,
			paid: 0,
			overdue: 0,
		},
		data: [],
		next_cursor: null,
		projection: { complete_through: null },
	};
}
