import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import {
	byId,
	db,
	deletedIds,
	deleteProjects,
	insertProject,
	pull,
	pullAll,
	type SyncRecord,
	uniqueUser,
	updateProject,
} from "./support.ts";

const created: string[] = [];
afterAll(() => deleteProjects(created));

describe("GET /v1/sync: first sync", () => {
	it("sends every nation, sector and project as created, in WatermelonDB's shape", async () => {
		const pages = await pullAll("admin", { last_pulled_at: null, schema_version: 2 });
		const first = pages[0];
		if (!first) throw new Error("no page");
		expect(Object.keys(first.changes).sort()).toEqual(
			["bookmarks", "field_reports", "nations", "notification_settings", "projects", "sectors"].sort(),
		);
		const all = (table: string) => pages.flatMap((p) => [...byId(p.changes, table, "created").values()]);
		for (const page of pages) {
			for (const table of Object.keys(page.changes)) {
				expect(page.changes[table]?.updated, table).toEqual([]);
				expect(page.changes[table]?.deleted, table).toEqual([]);
			}
			expect(page.timestamp).toBeGreaterThan(0);
			expect(Number.isInteger(page.timestamp)).toBe(true);
		}

		const nations = all("nations");
		expect(nations).toHaveLength(195);
		const kenya = nations.find((n) => n.id === "KE") as SyncRecord;
		expect(kenya).toMatchObject({ iso3: "KEN", name: "Kenya", serving_region: expect.any(String) });
		expect(Number.isInteger(kenya.annual_contribution_cents)).toBe(true);
		expect(typeof kenya.updated_at).toBe("number");
		expect(kenya).not.toHaveProperty("_status");
		expect(kenya).not.toHaveProperty("iso2");

		expect(
			all("sectors")
				.map((s) => s.id)
				.sort(),
		).toEqual(["agriculture", "education", "energy", "health", "minerals", "tech"].sort());
		const projects = all("projects");
		expect(projects.length).toBeGreaterThanOrEqual(500);
		expect(new Set(projects.map((p) => p.id)).size).toBe(projects.length);
		const project = projects[0] as SyncRecord;
		expect(Object.keys(project).sort()).toEqual(
			[
				"id",
				"name",
				"sector_id",
				"nation_id",
				"serving_region",
				"region",
				"status",
				"budget_cents",
				"funded_cents",
				"expected_yield_bps",
				"lat",
				"lng",
				"summary",
				"created_at",
				"updated_at",
			].sort(),
		);
		expect(typeof project.id).toBe("string");
		expect(Number.isInteger(project.budget_cents)).toBe(true);
	});

	it("gives a user without saved notification settings the defaults to edit (schema version 2)", async () => {
		const page = await pull("sync:read", { last_pulled_at: null, schema_version: 2 }, uniqueUser("defaults"));
		const settings = [...byId(page.changes, "notification_settings", "created").values()];
		expect(settings).toHaveLength(1);
		expect(settings[0]).toMatchObject({
			id: expect.stringMatching(/^ns_[0-9a-f]{32}$/),
			enabled: true,
			sectors: "[]",
			regions: "[]",
			nations: "[]",
			categories: JSON.stringify(["projects", "distributions", "alerts", "announcements"]),
		});
	});

	it("sends only the tables of schema version 1 to a version 1 client", async () => {
		const page = await pull(
			"sync:read",
			{ last_pulled_at: null, schema_version: 1, page_size: 5 },
			uniqueUser("v1"),
		);
		expect(Object.keys(page.changes).sort()).toEqual(
			["bookmarks", "field_reports", "nations", "projects", "sectors"].sort(),
		);
	});
});

describe("GET /v1/sync: incremental pulls", () => {
	it("sends server-side creates, updates and deletes since last_pulled_at, each once", async () => {
		const start = await pullAll("admin", { last_pulled_at: null });
		const since = start.at(-1)?.timestamp as number;

		const fresh = await insertProject("fresh");
		const edited = await insertProject("edited");
		const softDeleted = await insertProject("soft-deleted");
		const hardDeleted = await insertProject("hard-deleted");
		created.push(fresh.id, edited.id, softDeleted.id, hardDeleted.id);
		// `edited` existed at the first pull's horizon only if it was stamped before it: it was not, so pull once
		// to let the client hold all four, then change them.
		const middle = await pullAll("admin", { last_pulled_at: since });
		const held = new Map(middle.flatMap((p) => [...byId(p.changes, "projects", "created")]));
		for (const p of [fresh, edited, softDeleted, hardDeleted]) expect(held.has(p.id), p.name).toBe(true);
		const after = middle.at(-1)?.timestamp as number;

		await updateProject(edited.id, { name: `${edited.name} (renamed)` });
		await softDelete(softDeleted.id);
		await deleteProjects([hardDeleted.id]);

		const pages = await pullAll("admin", { last_pulled_at: after });
		const updated = new Map(pages.flatMap((p) => [...byId(p.changes, "projects", "updated")]));
		const createdNow = new Map(pages.flatMap((p) => [...byId(p.changes, "projects", "created")]));
		const deleted = pages.flatMap((p) => deletedIds(p.changes, "projects"));
		expect(updated.get(edited.id)?.name).toBe(`${edited.name} (renamed)`);
		expect(createdNow.has(edited.id)).toBe(false);
		expect(deleted).toEqual(expect.arrayContaining([softDeleted.id, hardDeleted.id]));
		expect(updated.has(softDeleted.id)).toBe(false);
		expect(createdNow.has(fresh.id) || updated.has(fresh.id)).toBe(false);

		// Nothing is sent twice: the next pull has none of it.
		const next = await pullAll("admin", { last_pulled_at: pages.at(-1)?.timestamp as number });
		const ids = next.flatMap((p) => [
			...byId(p.changes, "projects", "created").keys(),
			...byId(p.changes, "projects", "updated").keys(),
			...deletedIds(p.changes, "projects"),
		]);
		for (const id of [fresh.id, edited.id, softDeleted.id, hardDeleted.id]) expect(ids).not.toContain(id);
	});
});

/** Soft-deletes a project the way the projects API does: the row stays, as a tombstone for sync. */
async function softDelete(id: string) {
	await db((d) =>
		d.execute(sql`update projects set deleted_at = now(), updated_at = now() where id = ${id}`),
	);
}
