import { sql } from "drizzle-orm";
import { bigint, char, check, doublePrecision, index, integer, pgTable, text } from "drizzle-orm/pg-core";
import { cents, timestamps, tsvector } from "./columns.ts";

export const nations = pgTable(
	"nations",
	{
		iso2: char("iso2", { length: 2 }).primaryKey(),
		iso3: char("iso3", { length: 3 }).notNull().unique(),
		m49: text("m49").notNull(),
		name: text("name").notNull(),
		officialName: text("official_name").notNull(),
		/** UN M49 region (Africa, Americas, Asia, Europe, Oceania). */
		region: text("region").notNull(),
		subregion: text("subregion").notNull(),
		intermediateRegion: text("intermediate_region"),
		/** Home serving region: data residency, Durable Object location hint, nearest read replica. */
		servingRegion: text("serving_region").notNull(),
		capital: text("capital"),
		capitalLat: doublePrecision("capital_lat"),
		capitalLng: doublePrecision("capital_lng"),
		lat: doublePrecision("lat"),
		lng: doublePrecision("lng"),
		population: bigint("population", { mode: "number" }),
		populationYear: integer("population_year"),
		/** GDP in current USD cents for gdpYear; null where the World Bank has no figure (never invented). */
		gdpCents: cents("gdp_cents"),
		gdpYear: integer("gdp_year"),
		covenantStatus: text("covenant_status").notNull().default("candidate"),
		contributionRatePpm: integer("contribution_rate_ppm").notNull().default(0),
		annualContributionCents: cents("annual_contribution_cents").notNull().default(0),
		search: tsvector("search").generatedAlwaysAs(
			sql`to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(official_name, '') || ' ' || iso2 || ' ' || iso3 || ' ' || coalesce(capital, '') || ' ' || coalesce(subregion, ''))`,
		),
		...timestamps(),
	},
	(t) => [
		index("nations_region_idx").on(t.region, t.iso2),
		index("nations_serving_region_idx").on(t.servingRegion, t.iso2),
		index("nations_status_idx").on(t.covenantStatus, t.iso2),
		index("nations_search_idx").using("gin", t.search),
		check("nations_status_check", sql`covenant_status in ('candidate', 'active', 'suspended', 'withdrawn')`),
		check("nations_gdp_year_check", sql`(gdp_cents is null) = (gdp_year is null)`),
		check("nations_contribution_check", sql`annual_contribution_cents >= 0 and contribution_rate_ppm >= 0`),
	],
);

export type NationRow = typeof nations.$inferSelect;
