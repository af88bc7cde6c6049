import { z } from "@hono/zod-openapi";
import { type CacheEntry, createEntry } from "../../cache/index.ts";
import type { Nation } from "../../db/queries/nations.ts";
import { COVENANT_STATUSES } from "../../domain/contribution.ts";
import { M49_REGIONS, SERVING_REGIONS } from "../../domain/serving-regions.ts";

/** The representation of a nation, shared by every nations operation. */
export const NationSchema = z
	.object({
		iso2: z.string().length(2).openapi({ example: "KE", description: "ISO 3166-1 alpha-2 (the key)" }),
		iso3: z.string().length(3).openapi({ example: "KEN" }),
		m49: z.string().openapi({ example: "404", description: "UN M49 numeric code" }),
		name: z.string().openapi({ example: "Kenya" }),
		official_name: z.string().openapi({ example: "Republic of Kenya" }),
		region: z.enum(M49_REGIONS).openapi({ description: "UN M49 region" }),
		subregion: z.string().openapi({ example: "Sub-Saharan Africa" }),
		intermediate_region: z.string().nullable().openapi({ example: "Eastern Africa" }),
		serving_region: z
			.enum(SERVING_REGIONS)
			.openapi({ description: "Home serving region: data residency, ledger location, read replica" }),
		capital: z.string().nullable(),
		capital_lat: z.number().nullable(),
		capital_lng: z.number().nullable(),
		lat: z.number().nullable(),
		lng: z.number().nullable(),
		population: z.number().int().nullable(),
		population_year: z.number().int().nullable(),
		gdp_cents: z
			.number()
			.int()
			.nullable()
			.openapi({ description: "Latest GDP in integer USD cents; null where none is published" }),
		gdp_year: z.number().int().nullable(),
		covenant_status: z.enum(COVENANT_STATUSES),
		contribution_rate_ppm: z
			.number()
			.int()
			.openapi({ description: "Rate assessed on GDP in parts per million (computed)" }),
		annual_contribution_cents: z
			.number()
			.int()
			.openapi({ description: "What the nation owes per year in USD cents; 0 unless active (computed)" }),
		created_at: z.string().openapi({ format: "date-time" }),
		updated_at: z.string().openapi({ format: "date-time" }),
		version: z.number().int().openapi({ description: "Row version, incremented by every write" }),
	})
	.openapi("Nation");
export type NationResponse = z.infer<typeof NationSchema>;

/**
 * A query filter over an enum that accepts any case ("africa", "AMS") and hands the handler the canonical
 * spelling; the OpenAPI document lists the canonical values.
 */
export const anyCase = <const T extends readonly [string, ...string[]]>(values: T) =>
	z.preprocess(
		(raw) =>
			typeof raw === "string" ? (values.find((v) => v.toLowerCase() === raw.toLowerCase()) ?? raw) : raw,
		z.enum(values),
	);

/** ISO alpha-2 or alpha-3, any case. */
export const NationCodeParam = z.object({
	code: z
		.string()
		.regex(/^[A-Za-z]{2,3}$/, "must be an ISO 3166-1 alpha-2 or alpha-3 code")
		.openapi({
			param: { name: "code", in: "path" },
			example: "KE",
			description: "ISO 3166-1 alpha-2 or alpha-3 code, any case",
		}),
});

/** Column order here is the JSON order: it is part of the ETag, so it must never depend on the row object. */
export function presentNation(row: Nation): NationResponse {
	return {
		iso2: row.iso2,
		iso3: row.iso3,
		m49: row.m49,
		name: row.name,
		official_name: row.officialName,
		region: row.region as NationResponse["region"],
		subregion: row.subregion,
		intermediate_region: row.intermediateRegion,
		serving_region: row.servingRegion as NationResponse["serving_region"],
		capital: row.capital,
		capital_lat: row.capitalLat,
		capital_lng: row.capitalLng,
		lat: row.lat,
		lng: row.lng,
		population: row.population,
		population_year: row.populationYear,
		gdp_cents: row.gdpCents,
		gdp_year: row.gdpYear,
		covenant_status: row.covenantStatus as NationResponse["covenant_status"],
		contribution_rate_ppm: row.contributionRatePpm,
		annual_contribution_cents: row.annualContributionCents,
		created_at: row.createdAt.toISOString(),
		updated_at: row.updatedAt.toISOString(),
		version: row.version,
	};
}

/**
 * The cache entry of a nation: readable by everyone (reference data), so no access target. Cached under both
 * its codes (`itemKey("nations", iso2)` and `iso3`): a read by either finds it and a write refreshes both.
 */
export function nationEntry(row: Nation): Promise<CacheEntry> {
	return createEntry(presentNation(row), { version: row.version });
}
