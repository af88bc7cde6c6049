import { sql } from "drizzle-orm";
import { bigint, check, index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { projects } from "./projects.ts";

/**
 * A user's bookmark of a project, created on a phone (offline first) and synced with WatermelonDB. The id is the
 * client's: WatermelonDB generates record ids on the device. Two bookmarks of the same project are allowed (two
 * devices may bookmark it while offline; refusing the second push would leave that device unable to sync).
 */
export const bookmarks = pgTable(
	"bookmarks",
	{
		id: text("id").primaryKey(),
		/** The owner: the token's `sub`. */
		userId: text("user_id").notNull(),
		projectId: uuid("project_id")
			.notNull()
			.references(() => projects.id, { onDelete: "cascade" }),
		/** When the user created/changed it on the device (sanitised: never in the future). */
		createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		/** Mobile sync bookkeeping, set by the `covenant_sync_stamp` trigger (migration `sync_change_tracking`). */
		syncCreatedMs: bigint("sync_created_ms", { mode: "number" }).notNull().default(0),
		syncChangedMs: bigint("sync_changed_ms", { mode: "number" }).notNull().default(0),
		/**
		 * The `lastPulledAt` of the push that created the row. The pusher's next pull starts from that same
		 * timestamp: there the row is its own echo (sent as updated, so a local delete since is not undone);
		 * to any other device it is new (sent as created).
		 */
		syncOriginMs: bigint("sync_origin_ms", { mode: "number" }),
	},
	(t) => [
		index("bookmarks_user_changed_idx").on(t.userId, t.syncChangedMs),
		index("bookmarks_project_idx").on(t.projectId),
		check("bookmarks_id_check", sql`${t.id} ~ '^[A-Za-z0-9_.-]{1,64}$'`),
	],
);

export type BookmarkRow = typeof bookmarks.$inferSelect;
