import { z } from "@hono/zod-openapi";
import { asc, eq, sql } from "drizzle-orm";
import { ledgerOf } from "../../../durable-objects/nation-ledger/client.ts";
import type { App } from "../../app.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { contributionSchedules } from "../../db/schema/contributions.ts";
import { nations } from "../../db/schema/nations.ts";
import { type CovenantStatus, contributionFor } from "../../domain/contribution.ts";
import { assessmentTransferId, defaultDueDate } from "../../domain/fund/contributions.ts";
import { Period } from "../../domain/fund/period.ts";
import { nationByCode } from "../../domain/ledger/nations.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { assertFundWide, mapWithConcurrency } from "./schema.ts";

/** Ledgers written to at once while scheduling: enough to finish 56+ nations quickly, few enough to be polite. */
const LEDGER_CONCURRENCY = 8;

export const CreateScheduleBody = z
	.strictObject({
		period: Period.openapi({ example: "2026" }),
		due_date: z.iso.date({ error: "expected a date YYYY-MM-DD" }).optional().openapi({
			description:
				"When the contributions of newly scheduled nations fall due (UTC); default: 31 March of the period, or 30 days from today if that is later",
		}),
	})
	.openapi("CreateContributionSchedule");
export type CreateScheduleRequest = z.input<typeof CreateScheduleBody>;

const ScheduleItem = z.object({
	nation: z.string(),
	amount_cents: z.number().int(),
	rate_ppm: z.number().int(),
	basis: z.enum(["gdp", "fallback"]),
	due_date: z.string().openapi({ format: "date" }),
	transfer_id: z.string().openapi({ description: "The assessment's transfer on the nation's ledger" }),
	ledger_sequence: z.number().int().openapi({ description: "The assessment's entry in the nation's ledger" }),
	outcome: z
		.enum(["created", "existing"])
		.openapi({ description: "Whether this request created the nation's schedule" }),
});

export const ScheduleSchema = z
	.object({
		period: z.string(),
		created: z.number().int(),
		existing: z.number().int(),
		total_cents: z
			.number()
			.int()
			.openapi({ description: "The period's contributions assessed, over every scheduled nation" }),
		schedules: z.array(ScheduleItem),
		skipped: z
			.array(z.object({ nation: z.string(), reason: z.string() }))
			.openapi({ description: "Active nations that could not be scheduled, and why" }),
	})
	.openapi("ContributionSchedule");
export type CreateScheduleResponse = z.infer<typeof ScheduleSchema>;

export const route = defineRoute({
	method: "post",
	path: "/v1/contributions/schedule",
	tags: ["contributions"],
	summary: "Assess every active nation's contribution for a year, from the contribution rule",
	description:
		"Creates, for each nation whose covenant status is `active`, its contribution receivable for the period: a schedule row (amount from the contribution rule, due date) and the assessment on the nation's ledger (fund_contributions ← contributions_payable, transfer id `contribution.<period>.<nation>`). Idempotent per period and nation: repeating the request creates nothing new, keeps every existing amount and due date, and finishes any assessment a failed earlier attempt left unposted. Paying is a transfer on the nation's ledger (docs/fund.md). Needs contributions:write without constraints.",
	access: { permission: "contributions:write" },
	cost: 20,
	request: { body: { required: true, content: { "application/json": { schema: CreateScheduleBody } } } },
	responses: {
		200: {
			description: "Nothing new: every active nation was already scheduled",
			content: { "application/json": { schema: ScheduleSchema } },
		},
		201: {
			description: "At least one nation was scheduled",
			content: { "application/json": { schema: ScheduleSchema } },
		},
		...problemResponses(400, 409, 415, 503),
	},
});

interface Failure {
	nation: string;
	reason: string;
	detail: string;
	transient: boolean;
}

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		assertFundWide(c, "contributions:write", "Scheduling contributions");
		const { period, due_date } = c.req.valid("json");
		const dueDate = due_date ?? defaultDueDate(period, Date.now());
		const db = c.var.db();
		const principal = c.var.principal;

		const active = await db
			.select({
				iso2: nations.iso2,
				gdpCents: nations.gdpCents,
				gdpYear: nations.gdpYear,
				status: nations.covenantStatus,
			})
			.from(nations)
			.where(eq(nations.covenantStatus, "active"))
			.orderBy(asc(nations.iso2));
		const skipped: { nation: string; reason: string }[] = [];
		const planned: (typeof contributionSchedules.$inferInsert)[] = [];
		for (const nation of active) {
			if (nationByCode(nation.iso2)?.iso2 !== nation.iso2) {
				skipped.push({
					nation: nation.iso2,
					reason: "not one of the 195 reference nations, so it has no ledger",
				});
				continue;
			}
			const rule = contributionFor({
				gdp_cents: nation.gdpCents,
				gdp_year: nation.gdpYear,
				covenant_status: nation.status as CovenantStatus,
			});
			if (rule.basis === "none" || rule.annual_contribution_cents <= 0) continue;
			planned.push({
				period,
				nationIso2: nation.iso2,
				amountCents: rule.annual_contribution_cents,
				ratePpm: rule.rate_ppm,
				basis: rule.basis,
				gdpCents: nation.gdpCents,
				gdpYear: nation.gdpYear,
				dueDate,
				transferId: assessmentTransferId(period, nation.iso2),
				scheduledBy: `${principal.kind}:${principal.id}`,
			});
		}

		const { created, rows } = await inTransaction(db, async (tx) => {
			const inserted =
				planned.length === 0
					? []
					: await tx
							.insert(contributionSchedules)
							.values(planned)
							.onConflictDoNothing()
							.returning({ nation: contributionSchedules.nationIso2 });
			const all = await tx
				.select()
				.from(contributionSchedules)
				.where(eq(contributionSchedules.period, period))
				.orderBy(asc(contributionSchedules.nationIso2));
			return { created: new Set(inserted.map((r) => r.nation)), rows: all };
		});

		// The assessments not yet on their ledgers: this request's, and any an earlier attempt failed to post.
		const unposted = rows.filter((row) => row.ledgerSequence === null);
		const failures: Failure[] = [];
		const posted = await mapWithConcurrency(unposted, LEDGER_CONCURRENCY, async (row) => {
			const nation = nationByCode(row.nationIso2);
			if (!nation) {
				failures.push({
					nation: row.nationIso2,
					reason: "nation_not_found",
					detail: "no ledger",
					transient: false,
				});
				return null;
			}
			try {
				const result = await ledgerOf(c.env, nation).transfer(
					{
						id: row.transferId,
						kind: "contribution",
						debit_account: "fund_contributions",
						credit_account: "contributions_payable",
						amount: row.amountCents,
						reference: { period: row.period },
						metadata: { schedule: row.period, basis: row.basis, rate_ppm: String(row.ratePpm) },
					},
					{ idempotencyKey: `contribution-schedule:${row.period}:${row.nationIso2}` },
				);
				if (result.ok) return { nation: row.nationIso2, sequence: result.body.sequence };
				failures.push({
					nation: row.nationIso2,
					reason: result.refusal.reason,
					detail: result.refusal.detail,
					transient: false,
				});
			} catch (error) {
				failures.push({
					nation: row.nationIso2,
					reason: "ledger_unavailable",
					detail: String(error),
					transient: true,
				});
			}
			return null;
		});
		const recorded = posted.filter((p) => p !== null);
		if (recorded.length > 0) {
			const values = recorded.map((p) => sql`(${p.nation}, ${p.sequence}::bigint)`);
			await db.execute(sql`
				update contribution_schedules as cs set ledger_sequence = v.sequence
				from (values ${sql.join(values, sql`, `)}) as v(nation, sequence)
				where cs.period = ${period} and cs.nation_iso2 = v.nation`);
		}
		if (failures.length > 0) {
			const transient = failures.every((f) => f.transient);
			throw new ApiError(
				transient ? "unavailable" : "conflict",
				`${failures.length} of ${rows.length} nations' ledgers did not record their ${period} assessment (${failures
					.slice(0, 5)
					.map((f) => `${f.nation}: ${f.reason}`)
					.join(
						"; ",
					)}). The schedule rows are kept; ${transient ? "repeat the request to finish (it is idempotent)" : "see failed for what to fix, then repeat the request"}`,
				{ extensions: { failed: failures }, headers: transient ? { "retry-after": "5" } : undefined },
			);
		}

		const sequences = new Map(recorded.map((p) => [p.nation, p.sequence]));
		const schedules = rows.map((row) => ({
			nation: row.nationIso2,
			amount_cents: row.amountCents,
			rate_ppm: row.ratePpm,
			basis: row.basis as "gdp" | "fallback",
			due_date: row.dueDate,
			transfer_id: row.transferId,
			ledger_sequence: row.ledgerSequence ?? (sequences.get(row.nationIso2) as number),
			outcome: created.has(row.nationIso2) ? ("created" as const) : ("existing" as const),
		}));
		c.header("cache-control", "no-store");
		const body: CreateScheduleResponse = {
			period,
			created: created.size,
			existing: rows.length - created.size,
			total_cents: rows.reduce((sum, row) => sum + row.amountCents, 0),
			schedules,
			skipped,
		};
		return created.size > 0 ? c.json(body, 201) : c.json(body, 200);
	});
