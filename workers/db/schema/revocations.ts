import { sql } from "drizzle-orm";
import { check, index, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

/**
 * Token revocations (`POST /v1/admin/revocations`). The AuthAuthority Durable Object holds the live list
 * every request is checked against; this table is the record it is hydrated from and listings read. An
 * entry can be forgotten once `expiresAt` passes: by then every token it targets has expired anyway.
 */
export const revocations = pgTable(
	"revocations",
	{
		id: uuid("id").primaryKey().defaultRandom(),
		/** `jti`: one token; `sub`: every token of that subject issued at or before `revokedBefore`. */
		kind: text("kind").notNull(),
		/** The token id or the subject. Personal when `kind` is `sub`. */
		value: text("value").notNull(),
		revokedBefore: timestamp("revoked_before", { withTimezone: true, mode: "date" }).notNull(),
		expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
		reason: text("reason"),
		/** The admin's `sub`. Personal. */
		createdBy: text("created_by").notNull(),
		createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
	},
	(t) => [
		uniqueIndex("revocations_target_idx").on(t.kind, t.value),
		index("revocations_expires_idx").on(t.expiresAt),
		index("revocations_created_idx").on(t.createdAt, t.id),
		check("revocations_kind_check", sql`kind in ('jti', 'sub')`),
	],
);

export type RevocationRow = typeof revocations.$inferSelect;
