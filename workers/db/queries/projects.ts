import { and, asc, eq, getTableColumns, gt, inArray, isNull, or, type SQL, sql } from "drizzle-orm";
import type { Visibility } from "../../auth/permissions.ts";
import { nations } from "../schema/nations.ts";
import { projects } from "../schema/projects.ts";
import type { Queryable } from "./pagination.ts";

/** The columns a project representation is made of: not the search vector, not the tombstone. */
const { search: _search, deletedAt: _deletedAt, ...projectColumns } = getTableColumns(projects);
export type Project = { [K in keyof typeof projectColumns]: (typeof projects.$inferSelect)[K] };

export interface ProjectFilters {
	sector?: string;
	/** UN M49 region of the host nation. */
	region?: string;
	servingRegion?: string;
	/** Host nation, ISO alpha-2 or alpha-3 (upper case). */
	nation?: string;
	status?: string;
	/** Web-search syntax, matched against the English `search` vector (name, summary, sector). */
	q?: string;
}

/**
 * The rows a principal may see, as a WHERE clause: everything, or the union of its nation, sector and
 * serving-region constraints. Applied in SQL (not after fetching) so every page is full and no row is
 * skipped or leaked across pages.
 */
export function visibleProjects(visibility: Visibility): SQL | undefined {
	if (visibility.all) return undefined;
	const clauses = [
		visibility.nations.length ? inArray(projects.nationIso2, visibility.nations) : undefined,
		visibility.sectors.length ? inArray(projects.sector, visibility.sectors) : undefined,
		visibility.regions.length ? inArray(projects.servingRegion, visibility.regions) : undefined,
	].filter((clause): clause is SQL => clause !== undefined);
	return clauses.length ? or(...clauses) : sql`false`;
}

/** One page in id order (soft-deleted projects excluded), fetching `limit + 1` rows. */
export async function listProjects(
	db: Queryable,
	filters: ProjectFilters,
	visibility: Visibility,
	page: { after?: string; limit: number },
): Promise<Project[]> {
	return db
		.select(projectColumns)
		.from(projects)
		.where(
			and(
				isNull(projects.deletedAt),
				visibleProjects(visibility),
				filters.sector ? eq(projects.sector, filters.sector) : undefined,
				filters.region ? eq(projects.region, filters.region) : undefined,
				filters.servingRegion ? eq(projects.servingRegion, filters.servingRegion) : undefined,
				filters.nation ? hostedBy(filters.nation) : undefined,
				filters.status ? eq(projects.status, filters.status) : undefined,
				filters.q ? sql`${projects.search} @@ websearch_to_tsquery('english', ${filters.q})` : undefined,
				page.after ? gt(projects.id, page.after) : undefined,
			),
		)
		.orderBy(asc(projects.id))
		.limit(page.limit + 1);
}

function hostedBy(code: string): SQL {
	return code.length === 2
		? eq(projects.nationIso2, code)
		: eq(projects.nationIso2, sql`(select ${nations.iso2} from ${nations} where ${nations.iso3} = ${code})`);
}

export async function findProject(db: Queryable, id: string): Promise<Project | undefined> {
	const [row] = await db
		.select(projectColumns)
		.from(projects)
		.where(and(eq(projects.id, id), isNull(projects.deletedAt)))
		.limit(1);
	return row;
}

/** The project, locked until the transaction ends. */
export async function lockProject(tx: Queryable, id: string): Promise<Project | undefined> {
	const [row] = await tx
		.select(projectColumns)
		.from(projects)
		.where(and(eq(projects.id, id), isNull(projects.deletedAt)))
		.for("update")
		.limit(1);
	return row;
}

/** A project regardless of tombstone: an idempotent create must not reuse the id of a deleted one. */
export async function findProjectIncludingDeleted(
	db: Queryable,
	id: string,
): Promise<(Project & { deletedAt: Date | null }) | undefined> {
	const [row] = await db
		.select({ ...projectColumns, deletedAt: projects.deletedAt })
		.from(projects)
		.where(eq(projects.id, id))
		.limit(1);
	return row;
}

export type NewProject = Omit<Project, "createdAt" | "updatedAt" | "version" | "id"> & { id?: string };

/** Inserts the project; undefined when its id already exists (an idempotent retry). */
export async function insertProject(tx: Queryable, values: NewProject): Promise<Project | undefined> {
	const [row] = await tx
		.insert(projects)
		.values(values)
		.onConflictDoNothing({ target: projects.id })
		.returning(projectColumns);
	return row;
}

export type ProjectChanges = Partial<Omit<Project, "id" | "createdAt" | "updatedAt" | "version">>;

/** Applies the changes, bumping `version` and `updated_at`. */
export async function updateProject(tx: Queryable, id: string, changes: ProjectChanges): Promise<Project> {
	const [row] = await tx
		.update(projects)
		.set({ ...changes, version: sql`${projects.version} + 1`, updatedAt: sql`now()` })
		.where(eq(projects.id, id))
		.returning(projectColumns);
	if (!row) throw new Error(`project ${id} vanished inside its own transaction`);
	return row;
}
