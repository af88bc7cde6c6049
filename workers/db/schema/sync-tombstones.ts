import { bigint, bigserial, char, index, pgTable, text } from "drizzle-orm/pg-core";

/**
 * Mobile sync's memory of rows that clients may hold but must drop: written by triggers (migration
 * `sync_change_tracking`) when a synced row is deleted, or when a project moves out of a nation, sector or
 * serving region (a client scoped to the old one must delete its copy). The scope columns are the row's scope
 * BEFORE the change, so a pull can tell which principals had seen it.
 */
export const syncTombstones = pgTable(
	"sync_tombstones",
	{
		id: bigserial("id", { mode: "number" }).primaryKey(),
		/** The sync table name (`projects`, `bookmarks`, ...). */
		tableName: text("table_name").notNull(),
		/** The row's key as text (iso2, slug, uuid, client id; the owner's id for notification_settings). */
		rowId: text("row_id").notNull(),
		reason: text("reason").$type<"deleted" | "scope_changed">().notNull(),
		/** User-owned tables: whose row it was. */
		ownerId: text("owner_id"),
		nation: char("nation", { length: 2 }),
		sector: text("sector"),
		servingRegion: text("serving_region"),
		/** Same clock as the tables' `sync_changed_ms`. */
		changedMs: bigint("changed_ms", { mode: "number" }).notNull(),
	},
	(t) => [
		index("sync_tombstones_table_changed_idx").on(t.tableName, t.changedMs),
		index("sync_tombstones_table_row_idx").on(t.tableName, t.rowId),
	],
);

export type SyncTombstoneRow = typeof syncTombstones.$inferSelect;
