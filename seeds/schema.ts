/**
 * Zod schemas for the committed seed files (seeds/data/*.json) and `validateSeeds`, which checks every row
 * and the relations between files. Pure (no Node APIs): the seeding script, the seed builder and tests
 * running inside workerd all use it.
 */
import { z } from "zod";
import { COVENANT_STATUSES, contributionFor } from "../workers/domain/contribution.ts";
import {
	M49_INTERMEDIATE_REGIONS,
	M49_REGIONS,
	M49_SUBREGION_REGION,
	M49_SUBREGIONS,
	SERVING_REGIONS,
	servingRegionFor,
} from "../workers/domain/serving-regions.ts";

export const SECTOR_SLUGS = ["agriculture", "minerals", "energy", "tech", "health", "education"] as const;
export type SectorSlug = (typeof SECTOR_SLUGS)[number];

export const PROJECT_STATUSES = ["proposed", "approved", "active", "completed", "suspended"] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

/** The 193 UN member states, the Holy See and Palestine. */
export const NATION_COUNT = 195;

/** Integer USD cents within ±(2^53 − 1), the range JSON numbers, JavaScript and Postgres bigint share exactly. */
const cents = z.int({
	error: (issue) =>
		issue.code === "invalid_type" ? "expected integer cents" : "expected cents within ±(2^53 − 1)",
});
const nonNegativeCents = cents.min(0, { error: "expected cents >= 0" });
const year = z.int().min(1960).max(2100);
const latitude = z.number().min(-90).max(90);
const longitude = z.number().min(-180).max(180);
const iso2 = z.string().regex(/^[A-Z]{2}$/, { error: "expected ISO 3166-1 alpha-2 (two capital letters)" });
const iso3 = z.string().regex(/^[A-Z]{3}$/, { error: "expected ISO 3166-1 alpha-3 (three capital letters)" });
/** Non-empty, without leading or trailing whitespace (refused rather than silently trimmed). */
const text = z
	.string()
	.regex(/^\S(?:.*\S)?$/su, { error: "expected non-empty text without surrounding whitespace" });

export const nationSeedSchema = z
	.strictObject({
		iso2,
		iso3,
		m49: z.string().regex(/^\d{3}$/, { error: "expected a three-digit UN M49 code" }),
		name: text,
		official_name: text,
		region: z.enum(M49_REGIONS),
		subregion: z.enum(M49_SUBREGIONS),
		intermediate_region: z.enum(M49_INTERMEDIATE_REGIONS).nullable(),
		serving_region: z.enum(SERVING_REGIONS),
		population: z.int().min(0).nullable(),
		population_year: year.nullable(),
		gdp_cents: nonNegativeCents.nullable(),
		gdp_year: year.nullable(),
		covenant_status: z.enum(COVENANT_STATUSES),
		contribution_rate_ppm: z.int().min(0).max(1_000_000),
		annual_contribution_cents: nonNegativeCents,
	})
	.refine((n) => (n.gdp_cents === null) === (n.gdp_year === null), {
		path: ["gdp_year"],
		error: "gdp_year must be present exactly when gdp_cents is",
	})
	.refine((n) => n.population !== null || n.population_year === null, {
		path: ["population_year"],
		error: "population_year without a population",
	})
	.refine((n) => M49_SUBREGION_REGION[n.subregion] === n.region, {
		path: ["subregion"],
		error: "sub-region does not belong to the region",
	});

export const capitalSeedSchema = z
	.strictObject({
		iso2,
		capital: text.nullable(),
		capital_lat: latitude.nullable(),
		capital_lng: longitude.nullable(),
		/** Country centre; null where the source has none. */
		lat: latitude.nullable(),
		lng: longitude.nullable(),
	})
	.refine((c) => (c.capital_lat === null) === (c.capital_lng === null), {
		path: ["capital_lng"],
		error: "capital_lat and capital_lng come together",
	})
	.refine((c) => (c.lat === null) === (c.lng === null), {
		path: ["lng"],
		error: "lat and lng come together",
	});

/** capitals.json is derived from restcountries (MPL-2.0), so it carries its licence and source with it. */
export const capitalsFileSchema = z.strictObject({
	license: z.literal("MPL-2.0"),
	source: text,
	rows: z.array(z.unknown()),
});

export const sectorSeedSchema = z.strictObject({
	slug: z.enum(SECTOR_SLUGS),
	name: text,
	description: text,
});

export const projectSeedSchema = z
	.strictObject({
		id: z.uuid({ version: "v4", error: "expected a version 4 UUID" }),
		name: text,
		sector: z.enum(SECTOR_SLUGS),
		nation_iso2: iso2,
		status: z.enum(PROJECT_STATUSES),
		budget_cents: nonNegativeCents.min(1, { error: "expected budget_cents > 0" }),
		funded_cents: nonNegativeCents,
		expected_yield_bps: z.int().min(0).max(10_000),
		lat: latitude,
		lng: longitude,
		summary: text,
	})
	.refine((p) => p.funded_cents <= p.budget_cents, {
		path: ["funded_cents"],
		error: "funded_cents exceeds budget_cents",
	})
	.refine((p) => p.status !== "proposed" || p.funded_cents === 0, {
		path: ["funded_cents"],
		error: "a proposed project has no funding yet",
	});

export type NationSeed = z.infer<typeof nationSeedSchema>;
export type CapitalSeed = z.infer<typeof capitalSeedSchema>;
export type SectorSeed = z.infer<typeof sectorSeedSchema>;
export type ProjectSeed = z.infer<typeof projectSeedSchema>;

export interface CapitalsFile {
	license: "MPL-2.0";
	source: string;
	rows: CapitalSeed[];
}

/** The seed files as read from JSON: untrusted until validated. */
export interface SeedInput {
	nations: unknown;
	capitals: unknown;
	sectors: unknown;
	projects: unknown;
}

export interface SeedData {
	nations: NationSeed[];
	capitals: CapitalsFile;
	sectors: SectorSeed[];
	projects: ProjectSeed[];
}

export type SeedValidation = { ok: true; value: SeedData } | { ok: false; errors: string[] };

/**
 * Validates every row of every seed file, then the relations between them. Each error names the file, the row
 * index and the row's key, e.g. `nations.json row 12 (iso2 "KE"): gdp_cents: expected integer cents`.
 * Cross-checks run over the rows that parsed, so one bad row yields its own errors, not a cascade.
 */
export function validateSeeds(data: SeedInput): SeedValidation {
	const errors: string[] = [];

	const sectors = parseRows("sectors.json", data.sectors, "slug", sectorSeedSchema, errors);
	const nations = parseRows("nations.json", data.nations, "iso2", nationSeedSchema, errors);
	const capitalsFile = capitalsFileSchema.safeParse(data.capitals);
	if (!capitalsFile.success) {
		errors.push(...capitalsFile.error.issues.map((issue) => `capitals.json: ${formatIssue(issue)}`));
	}
	const capitalRows = capitalsFile.success ? capitalsFile.data.rows : [];
	const capitals = parseRows("capitals.json", capitalRows, "iso2", capitalSeedSchema, errors);
	const projects = parseRows("projects.json", data.projects, "id", projectSeedSchema, errors);

	uniqueKeys("sectors.json", sectors, "slug", errors);
	uniqueKeys("nations.json", nations, "iso2", errors);
	uniqueKeys("nations.json", nations, "iso3", errors);
	uniqueKeys("nations.json", nations, "m49", errors);
	const capitalsByIso2 = uniqueKeys("capitals.json", capitals, "iso2", errors);
	uniqueKeys("projects.json", projects, "id", errors);

	// Presence and references are checked against every row's key, valid or not, so that one bad row is
	// reported once, not again by each row that refers to it.
	const nationKeys = rawKeys(data.nations, "iso2");
	const sectorKeys = rawKeys(data.sectors, "slug");
	const capitalKeys = rawKeys(capitalRows, "iso2");

	if (Array.isArray(data.nations) && data.nations.length !== NATION_COUNT) {
		errors.push(`nations.json: expected ${NATION_COUNT} nations, found ${data.nations.length}`);
	}
	if (Array.isArray(data.sectors)) {
		for (const slug of SECTOR_SLUGS) {
			if (!sectorKeys.has(slug)) errors.push(`sectors.json: sector "${slug}" is missing`);
		}
	}

	for (const { index, row } of nations) {
		const where = rowLabel("nations.json", index, "iso2", row.iso2);
		if (capitalsFile.success && !capitalKeys.has(row.iso2)) {
			errors.push(`${where}: no capitals.json row for this nation`);
		}
		const capital = capitalsByIso2.get(row.iso2);
		if (capital !== undefined) {
			const expectedRegion = servingRegionOrError(row, capital.row.capital_lng);
			if (expectedRegion instanceof Error) {
				errors.push(`${where}: serving_region: ${expectedRegion.message}`);
			} else if (row.serving_region !== expectedRegion) {
				errors.push(`${where}: serving_region: expected "${expectedRegion}", found "${row.serving_region}"`);
			}
		}
		const expected = contributionFor(row);
		if (row.contribution_rate_ppm !== expected.rate_ppm) {
			errors.push(
				`${where}: contribution_rate_ppm: expected ${expected.rate_ppm}, found ${row.contribution_rate_ppm}`,
			);
		}
		if (row.annual_contribution_cents !== expected.annual_contribution_cents) {
			errors.push(
				`${where}: annual_contribution_cents: expected ${expected.annual_contribution_cents} (contribution rule), found ${row.annual_contribution_cents}`,
			);
		}
	}
	for (const { index, row } of capitals) {
		if (!nationKeys.has(row.iso2)) {
			errors.push(`${rowLabel("capitals.json", index, "iso2", row.iso2)}: iso2: no nation "${row.iso2}"`);
		}
	}
	for (const { index, row } of projects) {
		const where = rowLabel("projects.json", index, "id", row.id);
		if (!nationKeys.has(row.nation_iso2))
			errors.push(`${where}: nation_iso2: no nation "${row.nation_iso2}"`);
		if (!sectorKeys.has(row.sector)) errors.push(`${where}: sector: no sector "${row.sector}"`);
	}

	if (errors.length > 0 || !capitalsFile.success) return { ok: false, errors };
	return {
		ok: true,
		value: {
			nations: nations.map(({ row }) => row),
			capitals: {
				license: "MPL-2.0",
				source: capitalsFile.data.source,
				rows: capitals.map(({ row }) => row),
			},
			sectors: sectors.map(({ row }) => row),
			projects: projects.map(({ row }) => row),
		},
	};
}

interface Row<T> {
	index: number;
	row: T;
}

function parseRows<T>(
	file: string,
	rows: unknown,
	keyField: string,
	schema: z.ZodType<T>,
	errors: string[],
): Row<T>[] {
	if (!Array.isArray(rows)) {
		errors.push(`${file}: expected an array of rows`);
		return [];
	}
	const parsed: Row<T>[] = [];
	rows.forEach((raw: unknown, index) => {
		const result = schema.safeParse(raw);
		if (result.success) {
			parsed.push({ index, row: result.data });
			return;
		}
		const key =
			typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)[keyField] : undefined;
		const where = rowLabel(file, index, keyField, key);
		for (const issue of result.error.issues) errors.push(`${where}: ${formatIssue(issue)}`);
	});
	return parsed;
}

/** Indexes rows by a field, reporting every row whose value repeats an earlier row's. */
function uniqueKeys<T, K extends keyof T & string>(
	file: string,
	rows: Row<T>[],
	field: K,
	errors: string[],
): Map<T[K], Row<T>> {
	const seen = new Map<T[K], Row<T>>();
	for (const entry of rows) {
		const value = entry.row[field];
		const first = seen.get(value);
		if (first === undefined) {
			seen.set(value, entry);
		} else {
			errors.push(
				`${rowLabel(file, entry.index, field, value)}: ${field}: duplicate of row ${first.index} (${JSON.stringify(value)})`,
			);
		}
	}
	return seen;
}

function rawKeys(rows: unknown, field: string): Set<unknown> {
	if (!Array.isArray(rows)) return new Set();
	return new Set(
		rows.map((row: unknown) =>
			typeof row === "object" && row !== null ? (row as Record<string, unknown>)[field] : undefined,
		),
	);
}

function servingRegionOrError(nation: NationSeed, capitalLng: number | null) {
	try {
		return servingRegionFor({
			region: nation.region,
			subregion: nation.subregion,
			intermediateRegion: nation.intermediate_region,
			capitalLng,
		});
	} catch (error) {
		return error instanceof Error ? error : new Error(String(error));
	}
}

function rowLabel(file: string, index: number, keyField: string, key: unknown): string {
	return `${file} row ${index} (${keyField} ${key === undefined ? "missing" : JSON.stringify(key)})`;
}

function formatIssue(issue: z.core.$ZodIssue): string {
	return issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message;
}
