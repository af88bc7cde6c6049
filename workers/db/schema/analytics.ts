import {
	date,
	doublePrecision,
	integer,
	pgTable,
	primaryKey,
	text,
	timestamp,
	unique,
	uuid,
} from "drizzle-orm/pg-core";
import { cents } from "./columns.ts";

/**
 * Daily rollups per serving region and sector, maintained by the analytics consumer. `sector` is '' for
 * activity that belongs to no sector (e.g. a nation's contribution); the API shows it as null.
 */
export const analyticsDaily = pgTable(
	"analytics_daily",
	{
		day: date("day", { mode: "string" }).notNull(),
		servingRegion: text("serving_region").notNull(),
		sector: text("sector").notNull(),
		projectsCreated: integer("projects_created").notNull().default(0),
		projectsUpdated: integer("projects_updated").notNull().default(0),
		distributions: integer("distributions").notNull().default(0),
		distributionsCents: cents("distributions_cents").notNull().default(0),
		updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
	},
	(t) => [primaryKey({ columns: [t.day, t.servingRegion, t.sector] })],
);

/** Ledger transfers per day, serving region, sector and transfer kind: count and amount. */
export const analyticsDailyTransfers = pgTable(
	"analytics_daily_transfers",
	{
		day: date("day", { mode: "string" }).notNull(),
		servingRegion: text("serving_region").notNull(),
		sector: text("sector").notNull(),
		kind: text("kind").notNull(),
		transfers: integer("transfers").notNull().default(0),
		amountCents: cents("amount_cents").notNull().default(0),
		updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
	},
	(t) => [primaryKey({ columns: [t.day, t.servingRegion, t.sector, t.kind] })],
);

/** Every anomaly a rule detected, at most once per rule, day, region and sector. */
export const analyticsAnomalies = pgTable(
	"analytics_anomalies",
	{
		id: uuid("id").primaryKey().defaultRandom(),
		rule: text("rule").notNull(),
		day: date("day", { mode: "string" }).notNull(),
		servingRegion: text("serving_region").notNull(),
		sector: text("sector").notNull(),
		valueCents: cents("value_cents").notNull(),
		meanCents: doublePrecision("mean_cents").notNull(),
		stddevCents: doublePrecision("stddev_cents").notNull(),
		thresholdStddevs: doublePrecision("threshold_stddevs").notNull(),
		/** The `alerts.anomaly.detected` event it emitted (through the event outbox). */
		eventId: text("event_id").notNull(),
		detectedAt: timestamp("detected_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
	},
	(t) => [unique("analytics_anomalies_once").on(t.rule, t.day, t.servingRegion, t.sector)],
);
