import { type SQL, sql } from "drizzle-orm";
import type { Visibility } from "../auth/permissions.ts";
import type { ScopeColumns } from "./tables.ts";

/**
 * A principal's visibility as a WHERE condition over a row's scope columns: everything, or the union of its
 * nation, sector and serving-region constraints. A constraint kind the table has no column for matches
 * nothing (a sector-scoped principal sees no nation row through its sector grant).
 */
export function visibleWhere(visibility: Visibility, scope: ScopeColumns): SQL {
	if (visibility.all) return sql`true`;
	const conditions: SQL[] = [];
	if (scope.nation && visibility.nations.length > 0) {
		conditions.push(sql`${sql.raw(scope.nation)} = any(${sql.param(visibility.nations)}::text[])`);
	}
	if (scope.sector && visibility.sectors.length > 0) {
		conditions.push(sql`${sql.raw(scope.sector)} = any(${sql.param(visibility.sectors)}::text[])`);
	}
	if (scope.region && visibility.regions.length > 0) {
		conditions.push(sql`${sql.raw(scope.region)} = any(${sql.param(visibility.regions)}::text[])`);
	}
	if (conditions.length === 0) return sql`false`;
	return sql`(${sql.join(conditions, sql` or `)})`;
}

/** The scope columns of a tombstone (alias `t`): the row's scope before it was deleted or moved. */
export const TOMBSTONE_SCOPE: ScopeColumns = {
	nation: "t.nation",
	sector: "t.sector",
	region: "t.serving_region",
};

/** The same columns translated for a table: only the kinds the table itself is scoped by. */
export function tombstoneScopeFor(scope: ScopeColumns): ScopeColumns {
	return {
		nation: scope.nation ? TOMBSTONE_SCOPE.nation : undefined,
		sector: scope.sector ? TOMBSTONE_SCOPE.sector : undefined,
		region: scope.region ? TOMBSTONE_SCOPE.region : undefined,
	};
}
