import { sql } from "drizzle-orm";
import {
	bigint,
	char,
	check,
	index,
	integer,
	jsonb,
	pgTable,
	primaryKey,
	text,
	timestamp,
	unique,
	uuid,
} from "drizzle-orm/pg-core";
import { cents } from "./columns.ts";
import { nations } from "./nations.ts";

/**
 * The Postgres projection of every nation's ledger (the NationLedger Durable Objects own the truth). Rows arrive
 * through each ledger's outbox, keyed on (nation, sequence) and inserted with `on conflict do nothing`, so a
 * drain repeated after a failure changes nothing. Rows are never updated or deleted: the projection is
 * append-only like the ledger. Columns mirror `LedgerEntry` (workers/domain/ledger/entry.ts), including the hash
 * chain, so the projection can be verified on its own.
 */
export const ledgerEntries = pgTable(
	"ledger_entries",
	{
		nationIso2: char("nation_iso2", { length: 2 })
			.notNull()
			.references(() => nations.iso2),
		sequence: bigint("sequence", { mode: "number" }).notNull(),
		transferId: text("transfer_id").notNull(),
		kind: text("kind").notNull(),
		phase: text("phase").notNull(),
		debitAccount: text("debit_account").notNull(),
		creditAccount: text("credit_account").notNull(),
		amountCents: cents("amount_cents").notNull(),
		pendingId: text("pending_id"),
		reversesId: text("reverses_id"),
		/** Not a foreign key: the ledger records what the caller referenced, whatever happens to the project. */
		projectId: uuid("project_id"),
		distributionId: text("distribution_id"),
		period: text("period"),
		metadata: jsonb("metadata").$type<Record<string, string>>().notNull(),
		/** The entry's timestamp in the ledger (milliseconds, as hashed). */
		recordedAt: timestamp("recorded_at", { withTimezone: true, mode: "date", precision: 3 }).notNull(),
		expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date", precision: 3 }),
		prevHash: char("prev_hash", { length: 64 }).notNull(),
		hash: char("hash", { length: 64 }).notNull(),
		/** When the row reached Postgres: projected_at - recorded_at is the projection lag of the entry. */
		projectedAt: timestamp("projected_at", { withTimezone: true, mode: "date", precision: 3 })
			.notNull()
			.defaultNow(),
	},
	(t) => [
		primaryKey({ columns: [t.nationIso2, t.sequence] }),
		unique("ledger_entries_transfer_uq").on(t.nationIso2, t.transferId),
		index("ledger_entries_kind_idx").on(t.nationIso2, t.kind, t.sequence),
		index("ledger_entries_recorded_at_idx").on(t.recordedAt),
		index("ledger_entries_project_idx").on(t.projectId),
		index("ledger_entries_distribution_idx").on(t.distributionId),
		check("ledger_entries_amount_check", sql`amount_cents > 0`),
		check("ledger_entries_sequence_check", sql`sequence > 0`),
		check(
			"ledger_entries_kind_check",
			sql`kind in ('contribution', 'distribution', 'disbursement', 'adjustment', 'reversal')`,
		),
		check("ledger_entries_phase_check", sql`phase in ('single', 'pending', 'post', 'void', 'expire')`),
		check("ledger_entries_accounts_check", sql`debit_account <> credit_account`),
	],
);

export type LedgerEntryRow = typeof ledgerEntries.$inferSelect;

/**
 * One row per nation whose ledger has projected anything: how far the projection has come and how late the last
 * drain was. `/v1/health` reads the lag from here instead of asking 195 Durable Objects.
 */
export const ledgerProjectionState = pgTable("ledger_projection_state", {
	nationIso2: char("nation_iso2", { length: 2 })
		.primaryKey()
		.references(() => nations.iso2),
	/** The highest sequence projected: every entry up to it is in ledger_entries. */
	projectedSequence: bigint("projected_sequence", { mode: "number" }).notNull(),
	projectedHash: char("projected_hash", { length: 64 }).notNull(),
	/** When the last drain committed. */
	projectedAt: timestamp("projected_at", { withTimezone: true, mode: "date", precision: 3 }).notNull(),
	/** The lag of the oldest entry in the last drain (its projection time minus its ledger timestamp). */
	lastLagMs: integer("last_lag_ms").notNull(),
	/** How many entries the ledger still held unprojected when the last drain started, beyond that drain. */
	backlogEntries: integer("backlog_entries").notNull().default(0),
});

export type LedgerProjectionStateRow = typeof ledgerProjectionState.$inferSelect;
