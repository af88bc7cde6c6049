import { sql } from "drizzle-orm";
import {
	char,
	check,
	doublePrecision,
	index,
	integer,
	pgTable,
	text,
	timestamp,
	uuid,
} from "drizzle-orm/pg-core";
import { cents, timestamps, tsvector } from "./columns.ts";
import { nations } from "./nations.ts";
import { sectors } from "./sectors.ts";

export const projects = pgTable(
	"projects",
	{
		id: uuid("id").primaryKey().defaultRandom(),
		name: text("name").notNull(),
		sector: text("sector")
			.notNull()
			.references(() => sectors.slug),
		nationIso2: char("nation_iso2", { length: 2 })
			.notNull()
			.references(() => nations.iso2),
		/** Denormalised from the host nation so list filters need no join. */
		servingRegion: text("serving_region").notNull(),
		region: text("region").notNull(),
		status: text("status").notNull().default("proposed"),
		budgetCents: cents("budget_cents").notNull(),
		fundedCents: cents("funded_cents").notNull().default(0),
		/** Expected annual yield in basis points (1/100 of a percent). */
		expectedYieldBps: integer("expected_yield_bps").notNull(),
		lat: doublePrecision("lat").notNull(),
		lng: doublePrecision("lng").notNull(),
		summary: text("summary").notNull(),
		search: tsvector("search").generatedAlwaysAs(
			sql`to_tsvector('english', coalesce(name, '') || ' ' || coalesce(summary, '') || ' ' || sector)`,
		),
		/** Soft delete: mobile sync needs tombstones. */
		deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "date" }),
		...timestamps(),
	},
	(t) => [
		index("projects_sector_idx").on(t.sector, t.id),
		index("projects_nation_idx").on(t.nationIso2, t.id),
		index("projects_status_idx").on(t.status, t.id),
		index("projects_region_idx").on(t.region, t.id),
		index("projects_serving_region_idx").on(t.servingRegion, t.sector, t.id),
		index("projects_updated_at_idx").on(t.updatedAt),
		index("projects_search_idx").using("gin", t.search),
		check(
			"projects_status_check",
			sql`status in ('proposed', 'approved', 'active', 'completed', 'suspended')`,
		),
		check(
			"projects_money_check",
			sql`budget_cents > 0 and funded_cents >= 0 and funded_cents <= budget_cents`,
		),
	],
);

export type ProjectRow = typeof projects.$inferSelect;
