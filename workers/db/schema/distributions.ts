import { sql } from "drizzle-orm";
import {
	bigint,
	boolean,
	char,
	check,
	index,
	integer,
	jsonb,
	pgTable,
	primaryKey,
	text,
	timestamp,
	uuid,
} from "drizzle-orm/pg-core";
import type { DistributionPlan } from "../../domain/fund/distribution.ts";
import { cents } from "./columns.ts";
import { nations } from "./nations.ts";
import { projects } from "./projects.ts";

/**
 * Distributions (docs/fund.md): the plan of each profit distribution, written when it is created, and its
 * outcome, written by its saga (the DistributionSaga Durable Object, which owns the progress) when it finishes.
 * The id is `dist_` + 32 hex digits; with an Idempotency-Key it is derived from the caller and the key.
 */
export const distributions = pgTable(
	"distributions",
	{
		id: text("id").primaryKey(),
		projectId: uuid("project_id")
			.notNull()
			.references(() => projects.id),
		/** The contribution year whose paid contributions weigh the split, `YYYY`. */
		period: text("period").notNull(),
		amountCents: cents("amount_cents").notNull(),
		totalWeightCents: cents("total_weight_cents").notNull(),
		/** Nations with a share above zero. */
		recipients: integer("recipients").notNull(),
		/** running | finalizing | completed | stalled (see workers/domain/fund/distribution.ts). */
		status: text("status").notNull(),
		/** SHA-256 of the canonical request body: the same Idempotency-Key with another body is refused. */
		requestFingerprint: char("request_fingerprint", { length: 64 }).notNull(),
		createdBy: text("created_by").notNull(),
		/** The plan exactly as the saga received it: a retried request restarts the saga with the very same plan. */
		plan: jsonb("plan").$type<DistributionPlan>().notNull(),
		weightsCompleteThrough: timestamp("weights_complete_through", {
			withTimezone: true,
			mode: "date",
			precision: 3,
		}),
		createdAt: timestamp("created_at", { withTimezone: true, mode: "date", precision: 3 })
			.notNull()
			.defaultNow(),
		completedAt: timestamp("completed_at", { withTimezone: true, mode: "date", precision: 3 }),
	},
	(t) => [
		index("distributions_project_idx").on(t.projectId, t.createdAt),
		index("distributions_period_idx").on(t.period, t.createdAt),
		check("distributions_amount_check", sql`amount_cents > 0 and total_weight_cents > 0`),
		check("distributions_status_check", sql`status in ('running', 'finalizing', 'completed', 'stalled')`),
		check("distributions_id_check", sql`id ~ '^dist_[0-9a-f]{32}$'`),
	],
);

export type DistributionRow = typeof distributions.$inferSelect;

/** One row per nation in a distribution's plan; the posting columns are filled in when the saga finishes. */
export const distributionShares = pgTable(
	"distribution_shares",
	{
		distributionId: text("distribution_id")
			.notNull()
			.references(() => distributions.id, { onDelete: "cascade" }),
		nationIso2: char("nation_iso2", { length: 2 })
			.notNull()
			.references(() => nations.iso2),
		weightCents: cents("weight_cents").notNull(),
		shareCents: cents("share_cents").notNull(),
		extraCent: boolean("extra_cent").notNull(),
		/** null for a zero share (nothing is posted). */
		transferId: text("transfer_id"),
		/** pending | posted | refused | nothing_to_pay, as the saga last reported. */
		state: text("state").notNull().default("pending"),
		ledgerSequence: bigint("ledger_sequence", { mode: "number" }),
		postedAt: timestamp("posted_at", { withTimezone: true, mode: "date", precision: 3 }),
	},
	(t) => [
		primaryKey({ columns: [t.distributionId, t.nationIso2] }),
		index("distribution_shares_nation_idx").on(t.nationIso2),
		check("distribution_shares_amount_check", sql`weight_cents > 0 and share_cents >= 0`),
	],
);

export type DistributionShareRow = typeof distributionShares.$inferSelect;
