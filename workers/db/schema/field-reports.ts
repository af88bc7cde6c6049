import { sql } from "drizzle-orm";
import { bigint, check, doublePrecision, index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { projects } from "./projects.ts";

/**
 * An observation a user files about a project from the field, usually offline: a note, optionally a photo
 * reference (the key or URL of an uploaded photo, never the bytes) and where it was taken. Synced with
 * WatermelonDB; the id is the client's.
 */
export const fieldReports = pgTable(
	"field_reports",
	{
		id: text("id").primaryKey(),
		/** The owner: the token's `sub`. */
		userId: text("user_id").notNull(),
		projectId: uuid("project_id")
			.notNull()
			.references(() => projects.id, { onDelete: "cascade" }),
		note: text("note").notNull(),
		photoRef: text("photo_ref"),
		lat: doublePrecision("lat"),
		lng: doublePrecision("lng"),
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
		index("field_reports_user_changed_idx").on(t.userId, t.syncChangedMs),
		index("field_reports_project_idx").on(t.projectId),
		check("field_reports_id_check", sql`${t.id} ~ '^[A-Za-z0-9_.-]{1,64}$'`),
		check("field_reports_note_check", sql`length(${t.note}) between 1 and 10000`),
		check(
			"field_reports_photo_ref_check",
			sql`${t.photoRef} is null or length(${t.photoRef}) between 1 and 2048`,
		),
		check(
			"field_reports_location_check",
			sql`(${t.lat} is null) = (${t.lng} is null) and (${t.lat} is null or (${t.lat} between -90 and 90 and ${t.lng} between -180 and 180))`,
		),
	],
);

export type FieldReportRow = typeof fieldReports.$inferSelect;
