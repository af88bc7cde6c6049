import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pruneSyncTombstones } from "../../queues/scheduled.ts";
import { MAX_PUSH_RECORDS } from "../../workers/sync/push.ts";
import { notificationSettingsId } from "../../workers/sync/tables.ts";
import { bearer } from "../support/auth.ts";
import { call } from "../support/http.ts";
import {
	bookmark,
	byId,
	db,
	deleteProjects,
	emptyChanges,
	fieldReport,
	insertProject,
	pull,
	pullResponse,
	pushResponse,
	SYNC_USER,
	uniqueUser,
	updateProject,
} from "./support.ts";

interface Problem {
	type: string;
	status: number;
	code: string;
	detail: string;
	errors?: { path: (string | number)[]; message: string }[];
	[extension: string]: unknown;
}

let project: { id: string };
let timestamp: number;
beforeAll(async () => {
	project = await insertProject("errors");
	timestamp = (await pull("sync:read", { last_pulled_at: null, page_size: 1 })).timestamp;
});
afterAll(() => deleteProjects([project.id]));

async function problemOf(response: Response, status: number): Promise<Problem> {
	const text = await response.text();
	expect(response.status, text).toBe(status);
	expect(response.headers.get("content-type")).toBe("application/problem+json");
	return JSON.parse(text) as Problem;
}

/** Nothing of a refused push may be stored. */
async function storedReports(ids: string[]): Promise<number> {
	return db(async (d) =>
		Number(
			(
				await d.execute<{ n: number }>(
					sql`select count(*)::int as n from field_reports where id = any(${sql.param(ids)}::text[])`,
				)
			).rows[0]?.n,
		),
	);
}

describe("GET /v1/sync: bad input", () => {
	it("refuses a schema version the server does not support, naming the supported ones", async () => {
		const problem = await problemOf(await pullResponse("sync:read", { schema_version: 7 }), 400);
		expect(problem.code).toBe("invalid_request");
		expect(problem.detail).toMatch(/schema_version 7 is not supported/);
		expect(problem.supported_schema_versions).toEqual([1, 2]);
		await problemOf(await pullResponse("sync:read", { schema_version: "two" }), 400);
	});

	it("refuses a last_pulled_at in the future", async () => {
		const problem = await problemOf(
			await pullResponse("sync:read", { last_pulled_at: Date.now() + 86_400_000 }),
			400,
		);
		expect(problem.detail).toMatch(/in the future/);
	});

	it("refuses a malformed last_pulled_at, page_size or migration", async () => {
		const headers = await bearer("sync:read");
		for (const query of [
			"last_pulled_at=yesterday&schema_version=2",
			"last_pulled_at=-5&schema_version=2",
			"last_pulled_at=null",
			"last_pulled_at=null&schema_version=2&page_size=0",
			"last_pulled_at=null&schema_version=2&page_size=99999",
			"last_pulled_at=null&schema_version=2&migration=%7Bnot-json",
		]) {
			const problem = await problemOf(await call(`/v1/sync?${query}`, { headers }), 400);
			expect(problem.code, query).toBe("invalid_request");
		}
	});

	it("refuses a migration naming unknown tables or columns, or from an unsupported version", async () => {
		for (const migration of [
			{ from: 1, tables: ["secrets"], columns: [] },
			{ from: 1, tables: [], columns: [{ table: "projects", columns: ["password"] }] },
			{ from: 2, tables: ["notification_settings"], columns: [] },
			{ from: 1, tables: "notification_settings", columns: [] },
		]) {
			const problem = await problemOf(
				await pullResponse("sync:read", { last_pulled_at: timestamp, schema_version: 2, migration }),
				400,
			);
			expect(problem.code, JSON.stringify(migration)).toBe("invalid_request");
		}
	});
});

describe("POST /v1/sync: bad input is refused whole", () => {
	async function refused(body: unknown, status: number, scope = SYNC_USER, sub = uniqueUser("bad")) {
		const response = await call(`/v1/sync`, {
			method: "POST",
			headers: await bearer(scope, sub),
			json: body,
		});
		return problemOf(response, status);
	}

	it("refuses unknown tables", async () => {
		const changes = { ...emptyChanges(), passwords: { created: [], updated: [], deleted: [] } };
		const problem = await refused({ changes, lastPulledAt: timestamp }, 400);
		expect(problem.errors?.[0]?.path).toEqual(["changes"]);
		expect(problem.errors?.[0]?.message).toMatch(/passwords/);
	});

	it("refuses unknown columns and wrong types, pointing at each", async () => {
		const good = fieldReport(project.id);
		const changes = emptyChanges();
		changes.field_reports = {
			created: [
				good,
				{ ...fieldReport(project.id), is_admin: true },
				{ ...fieldReport(project.id), lat: "north", lng: 3 },
				{ ...fieldReport(project.id), lat: 12, lng: null },
				{ ...fieldReport(project.id), note: "" },
			],
			updated: [],
			deleted: [],
		};
		changes.bookmarks = {
			created: [{ ...bookmark(project.id), project_id: "not-a-uuid" }],
			updated: [],
			deleted: [42] as never,
		};
		const problem = await refused({ changes, lastPulledAt: timestamp }, 400);
		const paths = problem.errors?.map((e) => e.path.join(".")) ?? [];
		expect(paths).toEqual(
			expect.arrayContaining([
				"changes.field_reports.created.1",
				"changes.field_reports.created.2.lat",
				"changes.field_reports.created.3.lat",
				"changes.field_reports.created.4.note",
				"changes.bookmarks.created.0.project_id",
				"changes.bookmarks.deleted.0",
			]),
		);
		expect(await storedReports([good.id])).toBe(0);
	});

	it("refuses notification settings whose lists are not JSON arrays of known values", async () => {
		const sub = uniqueUser("bad-settings");
		const settings = {
			id: await notificationSettingsId(sub),
			enabled: true,
			sectors: "energy,health",
			regions: JSON.stringify(["mars"]),
			nations: JSON.stringify(["Kenya"]),
			categories: JSON.stringify(["projects"]),
			updated_at: Date.now(),
		};
		const changes = emptyChanges();
		changes.notification_settings = { created: [], updated: [settings], deleted: [] };
		const problem = await refused({ changes, lastPulledAt: timestamp }, 400, SYNC_USER, sub);
		expect(problem.errors?.map((e) => e.path.join("."))).toEqual([
			"changes.notification_settings.updated.0.sectors",
			"changes.notification_settings.updated.0.regions",
			"changes.notification_settings.updated.0.nations",
		]);
	});

	it("refuses ids WatermelonDB would find unsafe, and a record twice in one push", async () => {
		const changes = emptyChanges();
		changes.bookmarks = { created: [bookmark(project.id, "../../etc")], updated: [], deleted: [] };
		await refused({ changes, lastPulledAt: timestamp }, 400);

		const twice = bookmark(project.id);
		const duplicate = emptyChanges();
		duplicate.bookmarks = { created: [twice], updated: [{ ...twice, _status: "updated" }], deleted: [] };
		const problem = await refused({ changes: duplicate, lastPulledAt: timestamp }, 400);
		expect(problem.errors?.[0]?.path).toEqual(["changes", "bookmarks", "updated", 0]);
	});

	it(`refuses more than ${MAX_PUSH_RECORDS} records with 413`, async () => {
		const changes = emptyChanges();
		const reports = Array.from({ length: MAX_PUSH_RECORDS + 1 }, () => ({
			...bookmark(project.id),
			created_at: 1,
			updated_at: 1,
		}));
		changes.bookmarks = { created: reports, updated: [], deleted: [] };
		const problem = await refused({ changes, lastPulledAt: timestamp }, 413);
		expect(problem.max_records).toBe(MAX_PUSH_RECORDS);
	});

	it("refuses a last_pulled_at in the future, a missing one, or one that differs from the query", async () => {
		const sub = uniqueUser("future");
		const report = fieldReport(project.id);
		const changes = emptyChanges();
		changes.field_reports = { created: [report], updated: [], deleted: [] };
		const future = await pushResponse(SYNC_USER, { changes, lastPulledAt: Date.now() + 86_400_000 }, sub);
		expect((await problemOf(future, 400)).detail).toMatch(/in the future/);
		await refused({ changes }, 400);
		const mismatch = await pushResponse(SYNC_USER, { changes, lastPulledAt: timestamp }, sub, {
			query: `?last_pulled_at=${timestamp - 1}`,
		});
		await problemOf(mismatch, 400);
		expect(await storedReports([report.id])).toBe(0);
	});

	it("refuses a body that is not JSON", async () => {
		const response = await call("/v1/sync", {
			method: "POST",
			headers: { ...(await bearer(SYNC_USER)), "content-type": "text/plain" },
			body: "changes=1",
		});
		await problemOf(response, 415);
	});
});

describe("/v1/sync: security", () => {
	it("needs a token (401)", async () => {
		await problemOf(await call("/v1/sync?last_pulled_at=null&schema_version=2"), 401);
		await problemOf(
			await call("/v1/sync", { method: "POST", json: { changes: emptyChanges(), lastPulledAt: timestamp } }),
			401,
		);
	});

	it("needs sync:read to pull and sync:write to push (403)", async () => {
		const pullProblem = await problemOf(
			await call("/v1/sync?last_pulled_at=null&schema_version=2", { headers: await bearer("projects:read") }),
			403,
		);
		expect(pullProblem.detail).toMatch(/sync:read/);
		// A viewer may pull but not push.
		const changes = emptyChanges();
		changes.bookmarks = { created: [bookmark(project.id)], updated: [], deleted: [] };
		const pushProblem = await problemOf(
			await pushResponse("viewer", { changes, lastPulledAt: timestamp }, uniqueUser("viewer")),
			403,
		);
		expect(pushProblem.detail).toMatch(/sync:write/);
	});

	it("checks the body only after the token: an anonymous caller learns nothing about it", async () => {
		const response = await call("/v1/sync", { method: "POST", json: { nonsense: true } });
		await problemOf(response, 401);
	});

	it("scopes pulls: a governor of Kenya gets only Kenyan projects, a sector manager only its sector", async () => {
		const kenya = await pull("nation:KE", { last_pulled_at: null, page_size: 2000 });
		const kenyan = [...byId(kenya.changes, "projects", "created").values()];
		expect(kenyan.length).toBeGreaterThan(0);
		expect(new Set(kenyan.map((p) => p.nation_id))).toEqual(new Set(["KE"]));
		expect(kenya.changes.nations?.created).toHaveLength(195);

		const energy = await pull("sector:energy", { last_pulled_at: null, page_size: 2000 });
		const energyProjects = [...byId(energy.changes, "projects", "created").values()];
		expect(energyProjects.length).toBeGreaterThan(0);
		expect(new Set(energyProjects.map((p) => p.sector_id))).toEqual(new Set(["energy"]));

		const ams = await pull("region:ams", { last_pulled_at: null, page_size: 2000 });
		const amsProjects = [...byId(ams.changes, "projects", "created").values()];
		expect(new Set(amsProjects.map((p) => p.serving_region))).toEqual(new Set(["ams"]));

		// A token with sync:read but no project grant syncs no project at all.
		const none = await pull("sync:read", { last_pulled_at: null, page_size: 2000 });
		expect(none.changes.projects?.created).toEqual([]);
	});

	it("tells a scoped client to drop a project that moves out of its scope, and the new scope to add it", async () => {
		const moving = await insertProject("moving", { nation: "KE" });
		try {
			const kenyaStart = await pull("nation:KE", { last_pulled_at: timestamp, page_size: 2000 });
			const tanzaniaStart = await pull("nation:TZ", { last_pulled_at: timestamp, page_size: 2000 });
			expect((kenyaStart.changes.projects?.created ?? []).map((p) => p.id)).toContain(moving.id);
			await updateProject(moving.id, { nation: "TZ" });
			const kenya = await pull("nation:KE", { last_pulled_at: kenyaStart.timestamp, page_size: 2000 });
			expect(kenya.changes.projects?.deleted).toContain(moving.id);
			const tanzania = await pull("nation:TZ", { last_pulled_at: tanzaniaStart.timestamp, page_size: 2000 });
			// New to the Tanzanian client: created, not updated.
			expect((tanzania.changes.projects?.created ?? []).map((p) => p.id)).toContain(moving.id);
			const admin = await pull("admin", { last_pulled_at: kenyaStart.timestamp, page_size: 2000 });
			expect((admin.changes.projects?.updated ?? []).map((p) => p.id)).toContain(moving.id);
			expect(admin.changes.projects?.deleted).not.toContain(moving.id);
		} finally {
			await deleteProjects([moving.id]);
		}
	});

	it("never sends a user's own records to anyone else", async () => {
		const owner = uniqueUser("private");
		const report = fieldReport(project.id);
		const changes = emptyChanges();
		changes.field_reports = { created: [report], updated: [], deleted: [] };
		const pushed = await pushResponse(SYNC_USER, { changes, lastPulledAt: timestamp }, owner);
		expect(pushed.status).toBe(200);
		const admin = await pull("admin", { last_pulled_at: timestamp, page_size: 2000 }, uniqueUser("admin"));
		expect((admin.changes.field_reports?.created ?? []).map((r) => r.id)).not.toContain(report.id);
	});
});

describe("GET /v1/sync: deletions are remembered for 30 days", () => {
	it("tells a device whose last pull is older than that to synchronize from scratch (410)", async () => {
		const old = Date.now() - 30 * 86_400_000;
		const problem = await problemOf(await pullResponse("sync:read", { last_pulled_at: old }), 410);
		expect(problem.code).toBe("resync_required");
		expect(problem.detail).toMatch(/synchronize from scratch/);
		expect(problem).toMatchObject({ last_pulled_at: old, resync_after_days: 29 });
		// Within the window, an incremental pull works.
		expect((await pullResponse("sync:read", { last_pulled_at: Date.now() - 28 * 86_400_000 })).status).toBe(
			200,
		);
	});

	it("prunes tombstones past the retention in the daily sweep, keeping newer ones", async () => {
		const now = Date.now();
		const rowId = `prune-${crypto.randomUUID()}`;
		const inserted = await db((d) =>
			d.execute<{ id: number; changed_ms: number }>(
				sql`insert into sync_tombstones (table_name, row_id, reason, changed_ms) values
					('bookmarks', ${rowId}, 'deleted', ${now - 31 * 86_400_000}),
					('bookmarks', ${rowId}, 'deleted', ${now - 29 * 86_400_000})
					returning id, changed_ms`,
			),
		);
		expect(inserted.rows).toHaveLength(2);
		const pruned = await db((d) => pruneSyncTombstones(d, now));
		expect(pruned).toBeGreaterThanOrEqual(1);
		const left = await db((d) =>
			d.execute<{ changed_ms: string }>(sql`select changed_ms from sync_tombstones where row_id = ${rowId}`),
		);
		expect(left.rows.map((r) => Number(r.changed_ms))).toEqual([now - 29 * 86_400_000]);
		await db((d) => d.execute(sql`delete from sync_tombstones where row_id = ${rowId}`));
	});
});
