import { env } from "cloudflare:test";
import { and, asc, eq, inArray, isNull, sql as raw } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import seedProjects from "../../seeds/data/projects.json" with { type: "json" };
import { itemKey, resetIsolateCache } from "../../workers/cache/index.ts";
import { projects } from "../../workers/db/schema/projects.ts";
import type { GetProjectResponse } from "../../workers/routes/projects/get-project.ts";
import type { ProjectPageResponse } from "../../workers/routes/projects/list-projects.ts";
import type { UpdateProjectResponse } from "../../workers/routes/projects/update-project.ts";
import { bearer, uniqueSub } from "../support/auth.ts";
import { call, json, STOPPED_DATABASE } from "../support/http.ts";
import { recordEvents, sql } from "../nations/fixtures.ts";
import { createProject, deleteProjects, projectBody, walkProjects } from "./fixtures.ts";

const sub = uniqueSub("projects-happy");
/** A word no seed project contains, so full-text search finds exactly this suite's projects. */
const marker = `zq${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
const created: string[] = [];
const seedIds = new Set<string>(seedProjects.map((p) => p.id));
let admin: Record<string, string>;
let viewer: Record<string, string>;

beforeAll(async () => {
	admin = await bearer("admin", `${sub}-admin`);
	viewer = await bearer("viewer", sub);
});
afterAll(() => deleteProjects(created));

describe("POST /v1/projects, then reads on the same edge", () => {
	it("creates a project, derives its regions from the host nation, writes it through and emits an event", async () => {
		const recorder = recordEvents();
		const body = projectBody(marker, { nation_iso2: "ke" });
		const { response, project } = await createProject(admin, body, created, recorder.env);
		expect(project).toMatchObject({
			name: body.name,
			sector: "energy",
			nation_iso2: "KE",
			serving_region: "jnb",
			region: "Africa",
			status: "proposed",
			budget_cents: body.budget_cents,
			funded_cents: body.funded_cents,
			version: 1,
		});
		expect(project.id).toMatch(/^[0-9a-f-]{36}$/);
		expect(response.headers.get("location")).toBe(`/v1/projects/${project.id}`);
		expect(response.headers.get("consistency-token")).toBeTruthy();
		const etag = response.headers.get("etag");

		const read = await call(`/v1/projects/${project.id}`, { headers: viewer });
		expect(read.status).toBe(200);
		expect(read.headers.get("x-cache")).toBe("HIT");
		expect(read.headers.get("etag")).toBe(etag);
		expect(await json<GetProjectResponse>(read)).toEqual(project);

		expect(recorder.events.filter((e) => String(e.type).startsWith("covenant."))).toEqual([
			expect.objectContaining({
				type: "covenant.projects.created",
				id: `project:${project.id}:v1`,
				subject: `projects/${project.id}`,
				data: expect.objectContaining({
					project_id: project.id,
					nation: "KE",
					sector: "energy",
					after: project,
				}),
			}),
		]);
	});

	it("invalidates cached list pages on create and update, so the writer's next list shows its write", async () => {
		const path = `/v1/projects?q=${marker}&limit=200`;
		const before = await call(path, { headers: viewer });
		const cachedAgain = await call(path, { headers: viewer });
		expect(cachedAgain.headers.get("x-cache")).toBe("HIT");
		const count = (await json<ProjectPageResponse>(before)).data.length;

		const { project } = await createProject(
			admin,
			projectBody(marker, { name: `Test ${marker} Wind Farm` }),
			created,
			recordEvents().env,
		);
		const afterCreate = await call(path, { headers: viewer });
		expect(afterCreate.headers.get("x-cache")).toBe("MISS");
		const listed = (await json<ProjectPageResponse>(afterCreate)).data;
		expect(listed).toHaveLength(count + 1);
		expect(listed.map((p) => p.id)).toContain(project.id);

		const patch = await call(
			`/v1/projects/${project.id}`,
			{ method: "PATCH", headers: admin, json: { status: "approved" } },
			recordEvents().env,
		);
		expect(patch.status).toBe(200);
		const afterUpdate = (await json<ProjectPageResponse>(await call(path, { headers: viewer }))).data;
		expect(afterUpdate.find((p) => p.id === project.id)?.status).toBe("approved");
	});

	it("returns the existing project for a retried create with the same Idempotency-Key", async () => {
		const key = `create-${crypto.randomUUID()}`;
		const body = projectBody(marker, { name: `Test ${marker} Idempotent Clinic`, sector: "health" });
		const headers = { ...admin, "idempotency-key": key };
		const first = await createProject(headers, body, created, recordEvents().env);
		const retry = await call("/v1/projects", { method: "POST", headers, json: body }, recordEvents().env);
		expect(retry.status).toBe(201);
		expect(retry.headers.get("idempotent-replayed")).toBe("true");
		expect(await json(retry)).toEqual(first.project);
		const rows = await sql((db) =>
			db.select({ id: projects.id }).from(projects).where(eq(projects.name, body.name)),
		);
		expect(rows).toEqual([{ id: first.project.id }]);

		// The key is the caller's own: another caller's same key creates another project.
		const other = await createProject(
			{ ...(await bearer("admin", `${sub}-other-admin`)), "idempotency-key": key },
			body,
			created,
			recordEvents().env,
		);
		expect(other.project.id).not.toBe(first.project.id);
	});
});

describe("GET /v1/projects", () => {
	it("walks every project exactly once in id order, with and without filters", async () => {
		const all = await walkProjects("limit=200", viewer);
		const ids = all.map((p) => p.id);
		expect(new Set(ids).size).toBe(ids.length);
		expect([...ids].sort()).toEqual(ids);
		const seeded = ids.filter((id) => seedIds.has(id));
		expect(seeded.length).toBe(seedIds.size);

		const filtered = await walkProjects("sector=ENERGY&serving_region=jnb&limit=7", viewer);
		const expected = await sql((db) =>
			db
				.select({ id: projects.id })
				.from(projects)
				.where(
					and(eq(projects.sector, "energy"), eq(projects.servingRegion, "jnb"), isNull(projects.deletedAt)),
				)
				.orderBy(asc(projects.id)),
		);
		const onlySeeded = (list: { id: string }[]) => list.map((p) => p.id).filter((id) => seedIds.has(id));
		expect(onlySeeded(filtered)).toEqual(onlySeeded(expected));
		expect(filtered.length).toBeGreaterThan(7);
		for (const p of filtered) expect(p).toMatchObject({ sector: "energy", serving_region: "jnb" });
	});

	it("filters by host nation (either code, any case), M49 region and status", async () => {
		const byIso2 = await walkProjects("nation=ke", viewer);
		const byIso3 = await walkProjects("nation=KEN", viewer);
		expect(byIso3).toEqual(byIso2);
		expect(byIso2.length).toBeGreaterThan(0);
		for (const p of byIso2) expect(p.nation_iso2).toBe("KE");

		const active = await walkProjects("region=europe&status=active&limit=50", viewer);
		expect(active.length).toBeGreaterThan(0);
		for (const p of active) expect(p).toMatchObject({ region: "Europe", status: "active" });
	});

	it("searches name, summary and sector with English stemming", async () => {
		const found = await walkProjects(
			`q=${encodeURIComponent("irrigation or solar -rooftop")}&limit=100`,
			viewer,
		);
		const expected = await sql((db) =>
			db
				.select({ id: projects.id })
				.from(projects)
				.where(
					and(
						raw`${projects.search} @@ websearch_to_tsquery('english', 'irrigation or solar -rooftop')`,
						isNull(projects.deletedAt),
					),
				)
				.orderBy(asc(projects.id)),
		);
		expect(found.map((p) => p.id)).toEqual(expected.map((p) => p.id));
		expect(found.length).toBeGreaterThan(0);
	});

	it("lists only what a scoped principal may see, and never serves it another scope's cached page", async () => {
		const path = "/v1/projects?sector=health&limit=200";
		const everything = (await json<ProjectPageResponse>(await call(path, { headers: viewer }))).data;
		expect(new Set(everything.map((p) => p.nation_iso2)).size).toBeGreaterThan(1);

		const governor = await bearer("nation:KE", `${sub}-governor`);
		const kenyan = await call(path, { headers: governor });
		expect(kenyan.headers.get("x-cache")).toBe("MISS");
		const kenyanRows = (await json<ProjectPageResponse>(kenyan)).data;
		expect(kenyanRows.length).toBeGreaterThan(0);
		expect(kenyanRows.every((p) => p.nation_iso2 === "KE")).toBe(true);
		expect(kenyanRows).toEqual(everything.filter((p) => p.nation_iso2 === "KE"));

		const regional = (await walkProjects("limit=200", await bearer("region:ams", `${sub}-regional`))).map(
			(p) => p.serving_region,
		);
		expect(new Set(regional)).toEqual(new Set(["ams"]));

		const manager = await walkProjects("limit=200", await bearer("sector:energy nation:KE", `${sub}-mixed`));
		expect(manager.every((p) => p.sector === "energy" || p.nation_iso2 === "KE")).toBe(true);
		expect(manager.some((p) => p.sector !== "energy")).toBe(true);
		expect(manager.some((p) => p.nation_iso2 !== "KE")).toBe(true);
	});
});

describe("GET /v1/projects/{id}", () => {
	it("serves MISS then HIT, 304 on If-None-Match, and 404 to a principal outside the project's scope", async () => {
		const id = [...seedIds][7] ?? "";
		resetIsolateCache();
		await env.CACHE.delete(itemKey("projects", id));
		const first = await call(`/v1/projects/${id}`, { headers: viewer });
		expect(first.headers.get("x-cache")).toBe("MISS");
		const project = await json<GetProjectResponse>(first);
		const second = await call(`/v1/projects/${id}`, { headers: viewer });
		expect(second.headers.get("x-cache")).toBe("HIT");
		const conditional = await call(`/v1/projects/${id}`, {
			headers: { ...viewer, "if-none-match": second.headers.get("etag") ?? "" },
		});
		expect(conditional.status).toBe(304);

		const insider = await bearer(`nation:${project.nation_iso2}`, `${sub}-insider`);
		expect((await call(`/v1/projects/${id}`, { headers: insider })).status).toBe(200);
		const outsiderNation = project.nation_iso2 === "FR" ? "DE" : "FR";
		const outsider = await bearer(`nation:${outsiderNation}`, `${sub}-outsider`);
		const hidden = await call(`/v1/projects/${id}`, {
			headers: { ...outsider, "if-none-match": second.headers.get("etag") ?? "" },
		});
		expect(hidden.status).toBe(404);
		expect(hidden.headers.get("content-type")).toBe("application/problem+json");
	});

	it("keeps serving a cached project as STALE while Postgres is stopped", async () => {
		const id = [...seedIds][8] ?? "";
		expect((await call(`/v1/projects/${id}`, { headers: viewer })).status).toBe(200);
		const stale = await call(
			`/v1/projects/${id}`,
			{ headers: viewer },
			{ ...STOPPED_DATABASE, CACHE_FRESH_SECONDS: "0" },
		);
		expect(stale.status).toBe(200);
		expect(stale.headers.get("x-cache")).toBe("STALE");
		expect(stale.headers.get("warning")).toContain("110");
	});
});

describe("PATCH /v1/projects/{id}", () => {
	it("applies a change with If-Match, bumps the version, and emits before/after", async () => {
		const { project, response } = await createProject(
			admin,
			projectBody(marker, { name: `Test ${marker} Grid Upgrade` }),
			created,
			recordEvents().env,
		);
		const recorder = recordEvents();
		const update = await call(
			`/v1/projects/${project.id}`,
			{
				method: "PATCH",
				headers: { ...admin, "if-match": response.headers.get("etag") ?? "" },
				json: { status: "approved", funded_cents: 2_000_000_000, summary: "Now approved." },
			},
			recorder.env,
		);
		expect(update.status, await update.clone().text()).toBe(200);
		const updated = await json<UpdateProjectResponse>(update);
		expect(updated).toMatchObject({
			status: "approved",
			funded_cents: 2_000_000_000,
			summary: "Now approved.",
			version: 2,
		});
		expect(update.headers.get("etag")).not.toBe(response.headers.get("etag"));

		const read = await call(`/v1/projects/${project.id}`, { headers: viewer });
		expect(await json(read)).toEqual(updated);
		expect(read.headers.get("etag")).toBe(update.headers.get("etag"));

		expect(recorder.events.filter((e) => String(e.type).startsWith("covenant."))).toEqual([
			expect.objectContaining({
				type: "covenant.projects.updated",
				id: `project:${project.id}:v2`,
				data: expect.objectContaining({
					changed: ["status", "funded_cents", "summary"],
					before: expect.objectContaining({ status: "proposed", version: 1 }),
					after: updated,
				}),
			}),
		]);
	});

	it("moves a project to another nation and re-derives its regions", async () => {
		const { project } = await createProject(
			admin,
			projectBody(marker, { name: `Test ${marker} Moved` }),
			created,
			recordEvents().env,
		);
		const response = await call(
			`/v1/projects/${project.id}`,
			{ method: "PATCH", headers: admin, json: { nation_iso2: "fr", sector: "tech" } },
			recordEvents().env,
		);
		expect(response.status).toBe(200);
		expect(await json(response)).toMatchObject({
			nation_iso2: "FR",
			serving_region: "ams",
			region: "Europe",
			sector: "tech",
		});
		const [row] = await sql((db) =>
			db
				.select()
				.from(projects)
				.where(inArray(projects.id, [project.id])),
		);
		expect(row).toMatchObject({ nationIso2: "FR", servingRegion: "ams", region: "Europe", sector: "tech" });
	});

	it("lets a governor create and change projects in its own nation", async () => {
		const governor = await bearer("nation:KE", `${sub}-gov-writer`);
		const { project } = await createProject(
			governor,
			projectBody(marker, { name: `Test ${marker} Governed` }),
			created,
			recordEvents().env,
		);
		const response = await call(
			`/v1/projects/${project.id}`,
			{ method: "PATCH", headers: governor, json: { budget_cents: 6_000_000_000 } },
			recordEvents().env,
		);
		expect(response.status).toBe(200);
		expect((await json<UpdateProjectResponse>(response)).budget_cents).toBe(6_000_000_000);
	});

	it("changes nothing when the values are already current", async () => {
		const { project } = await createProject(
			admin,
			projectBody(marker, { name: `Test ${marker} Same` }),
			created,
			recordEvents().env,
		);
		const recorder = recordEvents();
		const response = await call(
			`/v1/projects/${project.id}`,
			{ method: "PATCH", headers: admin, json: { name: project.name, status: "proposed" } },
			recorder.env,
		);
		expect(response.status).toBe(200);
		expect(await json(response)).toEqual(project);
		expect(recorder.events.filter((e) => String(e.type).startsWith("covenant."))).toEqual([]);
	});
});
