import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { projects } from "../schema/projects.ts";
import { sectors } from "../schema/sectors.ts";
import type { Queryable } from "./pagination.ts";

export type Sector = typeof sectors.$inferSelect;

/** Project count and money of one group of live (not soft-deleted) projects. */
export interface ProjectTotals {
	projectCount: number;
	budgetCents: number;
	fundedCents: number;
}

export interface SectorRegionTotals extends ProjectTotals {
	servingRegion: string;
}

// Sums of bigint are numeric in Postgres; cast back to bigint (exact) and read as a JS number, which is
// exact up to 2^53 - 1 cents (USD 90 trillion), far above any sector's budget.
const totals = {
	projectCount: sql<number>`count(${projects.id})::int`.mapWith(Number),
	budgetCents: sql<number>`coalesce(sum(${projects.budgetCents}), 0)::bigint`.mapWith(Number),
	fundedCents: sql<number>`coalesce(sum(${projects.fundedCents}), 0)::bigint`.mapWith(Number),
};

/** Every sector (six) with its live projects' totals, in slug order. */
export async function listSectorsWithTotals(db: Queryable): Promise<(Sector & ProjectTotals)[]> {
	return db
		.select({
			slug: sectors.slug,
			name: sectors.name,
			description: sectors.description,
			createdAt: sectors.createdAt,
			updatedAt: sectors.updatedAt,
			version: sectors.version,
			...totals,
		})
		.from(sectors)
		.leftJoin(projects, and(eq(projects.sector, sectors.slug), isNull(projects.deletedAt)))
		.groupBy(sectors.slug)
		.orderBy(asc(sectors.slug));
}

export async function findSector(db: Queryable, slug: string): Promise<Sector | undefined> {
	const [row] = await db.select().from(sectors).where(eq(sectors.slug, slug)).limit(1);
	return row;
}

/** A sector's live projects grouped by serving region (regions without projects are absent). */
export async function sectorTotalsByServingRegion(
	db: Queryable,
	slug: string,
): Promise<SectorRegionTotals[]> {
	return db
		.select({ servingRegion: projects.servingRegion, ...totals })
		.from(projects)
		.where(and(eq(projects.sector, slug), isNull(projects.deletedAt)))
		.groupBy(projects.servingRegion)
		.orderBy(asc(projects.servingRegion));
}
