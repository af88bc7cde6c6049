import { and, asc, eq, getTableColumns, gt, sql } from "drizzle-orm";
import { nations } from "../schema/nations.ts";
import type { Queryable } from "./pagination.ts";

/** Every column but the generated `search` vector, which no response needs. */
const { search: _search, ...nationColumns } = getTableColumns(nations);
export type Nation = { [K in keyof typeof nationColumns]: (typeof nations.$inferSelect)[K] };

export interface NationFilters {
	/** UN M49 region name, as stored (e.g. "Africa"). */
	region?: string;
	servingRegion?: string;
	status?: string;
	/** Web-search syntax (`"exact phrase"`, `or`, `-word`), matched against the `search` vector. */
	q?: string;
}

/** One page in iso2 order, fetching `limit + 1` rows so the caller knows whether another page follows. */
export async function listNations(
	db: Queryable,
	filters: NationFilters,
	page: { after?: string; limit: number },
): Promise<Nation[]> {
	return db
		.select(nationColumns)
		.from(nations)
		.where(
			and(
				filters.region ? eq(nations.region, filters.region) : undefined,
				filters.servingRegion ? eq(nations.servingRegion, filters.servingRegion) : undefined,
				filters.status ? eq(nations.covenantStatus, filters.status) : undefined,
				filters.q ? sql`${nations.search} @@ websearch_to_tsquery('simple', ${filters.q})` : undefined,
				page.after ? gt(nations.iso2, page.after) : undefined,
			),
		)
		.orderBy(asc(nations.iso2))
		.limit(page.limit + 1);
}

/** A nation by ISO 3166-1 alpha-2 or alpha-3 code (upper case). */
export async function findNation(db: Queryable, code: string): Promise<Nation | undefined> {
	const [row] = await db
		.select(nationColumns)
		.from(nations)
		.where(code.length === 2 ? eq(nations.iso2, code) : eq(nations.iso3, code))
		.limit(1);
	return row;
}

/** The nation, locked until the transaction ends, so concurrent writers apply one after another. */
export async function lockNation(tx: Queryable, code: string): Promise<Nation | undefined> {
	const [row] = await tx
		.select(nationColumns)
		.from(nations)
		.where(code.length === 2 ? eq(nations.iso2, code) : eq(nations.iso3, code))
		.for("update")
		.limit(1);
	return row;
}

export interface NationChanges {
	covenantStatus?: string;
	gdpCents?: number | null;
	gdpYear?: number | null;
	contributionRatePpm?: number;
	annualContributionCents?: number;
}

/** Applies the changes, bumping `version` and `updated_at` as every write to a reference row does. */
export async function updateNation(tx: Queryable, iso2: string, changes: NationChanges): Promise<Nation> {
	const [row] = await tx
		.update(nations)
		.set({ ...changes, version: sql`${nations.version} + 1`, updatedAt: sql`now()` })
		.where(eq(nations.iso2, iso2))
		.returning(nationColumns);
	if (!row) throw new Error(`nation ${iso2} vanished inside its own transaction`);
	return row;
}
