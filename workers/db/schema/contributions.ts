import { sql } from "drizzle-orm";
import {
	bigint,
	char,
	check,
	date,
	index,
	integer,
	pgTable,
	primaryKey,
	text,
	timestamp,
} from "drizzle-orm/pg-core";
import { cents } from "./columns.ts";
import { nations } from "./nations.ts";

/**
 * Contribution schedules (docs/fund.md): one row per (period, nation), created by POST /v1/contributions/schedule
 * from the contribution rule and never changed by a repeated schedule, which is what makes scheduling
 * idempotent. The row is the bill; the assessment itself is an entry on the nation's ledger (`transfer_id`),
 * and what was paid is read from the ledger projection (ledger_entries), never stored here.
 */
export const contributionSchedules = pgTable(
	"contribution_schedules",
	{
		/** The contribution year, `YYYY`. */
		period: text("period").notNull(),
		nationIso2: char("nation_iso2", { length: 2 })
			.notNull()
			.references(() => nations.iso2),
		/** What the nation owes for the period: the contribution rule applied when the schedule was created. */
		amountCents: cents("amount_cents").notNull(),
		/** The rule's inputs and rate, kept so the amount can always be recomputed and checked. */
		ratePpm: integer("rate_ppm").notNull(),
		basis: text("basis").notNull(),
		gdpCents: cents("gdp_cents"),
		gdpYear: integer("gdp_year"),
		/** Overdue from the day after (UTC). */
		dueDate: date("due_date", { mode: "string" }).notNull(),
		/** The assessment's transfer id on the nation's ledger. */
		transferId: text("transfer_id").notNull(),
		/** Set once the nation's ledger has recorded the assessment (null: a repeated schedule will post it). */
		ledgerSequence: bigint("ledger_sequence", { mode: "number" }),
		scheduledAt: timestamp("scheduled_at", { withTimezone: true, mode: "date", precision: 3 })
			.notNull()
			.defaultNow(),
		/** The principal that created the schedule. */
		scheduledBy: text("scheduled_by").notNull(),
	},
	(t) => [
		primaryKey({ columns: [t.period, t.nationIso2] }),
		index("contribution_schedules_nation_idx").on(t.nationIso2, t.period),
		check("contribution_schedules_amount_check", sql`amount_cents > 0`),
		check("contribution_schedules_period_check", sql`period ~ '^[0-9]{4}$'`),
		check("contribution_schedules_basis_check", sql`basis in ('gdp', 'fallback')`),
	],
);

export type ContributionScheduleRow = typeof contributionSchedules.$inferSelect;
