import { sql } from "drizzle-orm";
import { bigint, char, check, index, jsonb, pgTable, smallint, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The audit trail: append-only and hash-chained. Row n's `hash` is SHA-256 over row n-1's hash and the
 * canonical encoding of row n (queues/consumers/audit-chain.ts documents the encoding), so editing, deleting
 * or reordering a row breaks every later link. A trigger (migration `audit_append_only`) refuses UPDATE and
 * DELETE.
 */
export const auditLog = pgTable(
	"audit_log",
	{
		/** Position in the chain, 1-based and gapless. */
		seq: bigint("seq", { mode: "number" }).primaryKey(),
		eventId: text("event_id").notNull().unique(),
		/** When the audited action happened (the event's time, at millisecond precision). */
		occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }).notNull(),
		/** When the audit consumer appended it. */
		recordedAt: timestamp("recorded_at", { withTimezone: true, mode: "date" }).notNull(),
		/** Who: the principal id, or `system`. */
		actor: text("actor").notNull(),
		/** What: the event type. */
		action: text("action").notNull(),
		/** On what: the event subject (e.g. `projects/<id>`). */
		target: text("target"),
		requestId: text("request_id"),
		source: text("source").notNull(),
		/** The object's nation, sector and serving region when the event names them: scoped readers see only theirs. */
		nation: char("nation", { length: 2 }),
		sector: text("sector"),
		servingRegion: text("serving_region"),
		before: jsonb("before").$type<Record<string, unknown>>(),
		after: jsonb("after").$type<Record<string, unknown>>(),
		data: jsonb("data").$type<Record<string, unknown>>().notNull(),
		prevHash: char("prev_hash", { length: 64 }).notNull(),
		hash: char("hash", { length: 64 }).notNull(),
	},
	(t) => [
		index("audit_log_actor_idx").on(t.actor, t.seq),
		index("audit_log_action_idx").on(t.action, t.seq),
		index("audit_log_target_idx").on(t.target, t.seq),
		index("audit_log_occurred_at_idx").on(t.occurredAt),
	],
);

export type AuditLogRow = typeof auditLog.$inferSelect;

/**
 * The chain head: one row, moved by compare-and-set with every append (from exactly the seq and hash the batch
 * hashed from), so concurrent batches append one after the other and can never fork the chain.
 */
export const auditChainHead = pgTable(
	"audit_chain_head",
	{
		id: smallint("id").primaryKey(),
		seq: bigint("seq", { mode: "number" }).notNull(),
		hash: char("hash", { length: 64 }).notNull(),
		updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
	},
	(t) => [check("audit_chain_head_single_row", sql`${t.id} = 1`)],
);
