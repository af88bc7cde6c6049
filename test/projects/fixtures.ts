import { inArray } from "drizzle-orm";
import { projects } from "../../workers/db/schema/projects.ts";
import type {
	CreateProjectRequest,
	CreateProjectResponse,
} from "../../workers/routes/projects/create-project.ts";
import type { ProjectPageResponse } from "../../workers/routes/projects/list-projects.ts";
import { call, json } from "../support/http.ts";
import { sql } from "../nations/fixtures.ts";

/** A valid create body; `marker` goes into the name so a suite can find (and full-text search) its own rows. */
export function projectBody(
	marker: string,
	overrides: Partial<CreateProjectRequest> = {},
): CreateProjectRequest {
	return {
		name: `Test ${marker} Solar Microgrid`,
		sector: "energy",
		nation_iso2: "KE",
		budget_cents: 5_000_000_000,
		funded_cents: 1_000_000_000,
		expected_yield_bps: 640,
		lat: -1.29,
		lng: 36.82,
		summary: `A test project (${marker}) that builds a solar microgrid with battery storage for a rural district.`,
		...overrides,
	};
}

/** Creates a project through the API and remembers its id for cleanup. */
export async function createProject(
	headers: Record<string, string>,
	body: CreateProjectRequest,
	created: string[],
	envOverrides: Partial<Env> = {},
): Promise<{ response: Response; project: CreateProjectResponse }> {
	const response = await call("/v1/projects", { method: "POST", headers, json: body }, envOverrides);
	if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`);
	const project = await json<CreateProjectResponse>(response.clone());
	created.push(project.id);
	return { response, project };
}

export async function deleteProjects(ids: string[]): Promise<void> {
	if (ids.length > 0) await sql((db) => db.delete(projects).where(inArray(projects.id, ids)));
}

/** Follows next_cursor from the first page to the last; fails on a non-200 page. */
export async function walkProjects(
	query: string,
	headers: Record<string, string>,
): Promise<ProjectPageResponse["data"]> {
	const seen: ProjectPageResponse["data"] = [];
	let cursor: string | null = null;
	for (let pages = 0; pages < 1000; pages++) {
		const path: string = `/v1/projects?${query}${cursor ? `&cursor=${cursor}` : ""}`;
		const response = await call(path, { headers });
		if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`);
		const page = await json<ProjectPageResponse>(response);
		seen.push(...page.data);
		cursor = page.next_cursor;
		if (!cursor) return seen;
	}
	throw new Error("pagination did not end");
}
