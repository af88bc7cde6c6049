/**
 * Writes the seed data into Postgres: sectors, then nations (joined with their capitals), then projects, as
 * batched multi-row upserts. Pure of Node APIs: it only needs a `query` function, so the seeding script (pg or
 * PGlite) and tests inside workerd (@neondatabase/serverless) share it.
 */
import type { SeedData, SeedInput } from "./schema.ts";
import { validateSeeds } from "./schema.ts";

/** The shape of pg's, PGlite's and @neondatabase/serverless's `query`. */
export type Query = (text: string, params?: unknown[]) => Promise<{ rows: unknown[] }>;

export interface ApplySeedsResult {
	/** Seed rows upserted, per table. */
	sectors: number;
	nations: number;
	projects: number;
	/** Of those, rows inserted or changed by this run: all zero when the database already matched the seeds. */
	changed: { sectors: number; nations: number; projects: number };
}

/** Rows per INSERT statement: 200 nations × 21 columns stays far below Postgres's 65,535 parameters. */
export const SEED_BATCH_SIZE = 200;

interface UpsertSpec {
	table: string;
	key: string;
	columns: readonly string[];
}

const SECTORS: UpsertSpec = { table: "sectors", key: "slug", columns: ["slug", "name", "description"] };

const NATIONS: UpsertSpec = {
	table: "nations",
	key: "iso2",
	columns: [
		"iso2",
		"iso3",
		"m49",
		"name",
		"official_name",
		"region",
		"subregion",
		"intermediate_region",
		"serving_region",
		"capital",
		"capital_lat",
		"capital_lng",
		"lat",
		"lng",
		"population",
		"population_year",
		"gdp_cents",
		"gdp_year",
		"covenant_status",
		"contribution_rate_ppm",
		"annual_contribution_cents",
	],
};

const PROJECTS: UpsertSpec = {
	table: "projects",
	key: "id",
	columns: [
		"id",
		"name",
		"sector",
		"nation_iso2",
		"serving_region",
		"region",
		"status",
		"budget_cents",
		"funded_cents",
		"expected_yield_bps",
		"lat",
		"lng",
		"summary",
	],
};

/**
 * Validates the seeds (throwing an Error that lists every problem) and upserts them. Idempotent: a row is
 * inserted when its key is new, updated only when one of its seeded columns differs, and otherwise left alone,
 * so a second run writes nothing and duplicates nothing. An update bumps `updated_at` and `version`, as any
 * other write does, so caches, ETags and mobile sync see the change; columns the seeds do not own
 * (`created_at`, `deleted_at`, `search`) are never touched.
 *
 * Statements are issued one after another through `query`; pass a query bound to one connection inside a
 * transaction to make the whole seeding atomic.
 */
export async function applySeeds(query: Query, data: SeedInput): Promise<ApplySeedsResult> {
	const validation = validateSeeds(data);
	if (!validation.ok) {
		const count = validation.errors.length;
		throw new Error(
			`seed data is invalid (${count} problem${count === 1 ? "" : "s"}):\n${validation.errors.join("\n")}`,
		);
	}
	const seeds = validation.value;
	const sectorRows = seeds.sectors.map((s) => [s.slug, s.name, s.description]);
	const nationRows = nationValues(seeds);
	const regionByIso2 = new Map(
		seeds.nations.map((n) => [n.iso2, { serving: n.serving_region, region: n.region }]),
	);
	const projectRows = seeds.projects.map((p) => {
		const host = regionByIso2.get(p.nation_iso2);
		if (host === undefined) throw new Error(`project ${p.id}: no nation ${p.nation_iso2}`);
		return [
			p.id,
			p.name,
			p.sector,
			p.nation_iso2,
			host.serving,
			host.region,
			p.status,
			p.budget_cents,
			p.funded_cents,
			p.expected_yield_bps,
			p.lat,
			p.lng,
			p.summary,
		];
	});

	// Parents before children: projects reference sectors and nations.
	const changed = {
		sectors: await upsert(query, SECTORS, sectorRows),
		nations: await upsert(query, NATIONS, nationRows),
		projects: await upsert(query, PROJECTS, projectRows),
	};
	return { sectors: sectorRows.length, nations: nationRows.length, projects: projectRows.length, changed };
}

function nationValues(seeds: SeedData): unknown[][] {
	const capitals = new Map(seeds.capitals.rows.map((c) => [c.iso2, c]));
	return seeds.nations.map((n) => {
		const c = capitals.get(n.iso2);
		return [
			n.iso2,
			n.iso3,
			n.m49,
			n.name,
			n.official_name,
			n.region,
			n.subregion,
			n.intermediate_region,
			n.serving_region,
			c?.capital ?? null,
			c?.capital_lat ?? null,
			c?.capital_lng ?? null,
			c?.lat ?? null,
			c?.lng ?? null,
			n.population,
			n.population_year,
			n.gdp_cents,
			n.gdp_year,
			n.covenant_status,
			n.contribution_rate_ppm,
			n.annual_contribution_cents,
		];
	});
}

/** Upserts rows in batches; returns how many were inserted or changed. */
async function upsert(query: Query, spec: UpsertSpec, rows: unknown[][]): Promise<number> {
	const updated = spec.columns.filter((column) => column !== spec.key);
	const assignments = updated.map((column) => `${column} = excluded.${column}`).join(", ");
	const current = updated.map((column) => `${spec.table}.${column}`).join(", ");
	const incoming = updated.map((column) => `excluded.${column}`).join(", ");
	let changed = 0;
	for (let start = 0; start < rows.length; start += SEED_BATCH_SIZE) {
		const batch = rows.slice(start, start + SEED_BATCH_SIZE);
		const params: unknown[] = [];
		const tuples = batch.map((row) => {
			const placeholders = row.map((value) => {
				params.push(value);
				return `$${params.length}`;
			});
			return `(${placeholders.join(", ")})`;
		});
		const result = await query(
			`insert into ${spec.table} (${spec.columns.join(", ")}) values ${tuples.join(", ")}
			on conflict (${spec.key}) do update set ${assignments}, updated_at = now(), version = ${spec.table}.version + 1
			where (${current}) is distinct from (${incoming})
			returning ${spec.key}`,
			params,
		);
		changed += result.rows.length;
	}
	return changed;
}
