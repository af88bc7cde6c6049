import { appSchema, Database, Model, tableSchema } from "@nozbe/watermelondb";
import LokiJSAdapterModule from "@nozbe/watermelondb/adapters/lokijs/index.js";
import type { TableSchemaSpec } from "@nozbe/watermelondb/Schema/index.js";
import { createTable, schemaMigrations } from "@nozbe/watermelondb/Schema/migrations/index.js";
import { synchronize } from "@nozbe/watermelondb/sync/index.js";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
	LATEST_SCHEMA_VERSION,
	type SchemaVersion,
	type SyncTable,
	tablesAt,
} from "../../workers/sync/tables.ts";
import { type EdgeStack, startEdgeStack } from "./support/edge-stack.ts";

/**
 * WatermelonDB's own `synchronize()` against the worker, as the mobile apps run it: @nozbe/watermelondb in Node
 * with its LokiJS adapter (in memory: Node has no IndexedDB, and the adapter falls back to Loki's memory
 * store by itself). The client's schema is built from the server's sync table registry, so a column the server
 * sends that the app does not declare (or the reverse) shows up here.
 */

// The package is CommonJS with `exports.default`; Node's ESM interop hands back the exports object.
const LokiJSAdapter =
	(LokiJSAdapterModule as unknown as { default?: typeof LokiJSAdapterModule }).default ?? LokiJSAdapterModule;

const SCOPE = "sync:read sync:write projects:read";
const PAGE_SIZE = 250;

let stack: EdgeStack;
let database: pg.Client;

beforeAll(async () => {
	stack = await startEdgeStack();
	database = new pg.Client(stack.databaseUrl);
	await database.connect();
}, 180_000);
afterAll(async () => {
	await database?.end();
	await stack?.close();
});

// WatermelonDB reports what it considers server bugs ("Server wants client to create record ..., but it
// already exists locally", "... to update record ..., but it doesn't exist locally") through console.error
// and then carries on: a test could pass while the protocol is subtly wrong, so every such report fails it.
let diagnostics: string[] = [];
beforeEach(() => {
	diagnostics = [];
	const collect = (...args: unknown[]) => {
		const text = args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ");
		if (text.includes("[Sync]") && !text.includes("Performing migration sync")) diagnostics.push(text);
	};
	vi.spyOn(console, "error").mockImplementation(collect);
	vi.spyOn(console, "warn").mockImplementation(collect);
});
afterEach(() => {
	vi.restoreAllMocks();
	expect(diagnostics, "WatermelonDB sync diagnostics").toEqual([]);
});

function tableSpec(table: SyncTable): TableSchemaSpec {
	return {
		name: table.name,
		columns: table.columns.map((c) => ({ name: c.name, type: c.type, isOptional: c.optional })),
	};
}

const schemaAt = (version: SchemaVersion) =>
	appSchema({ version, tables: tablesAt(version).map((t) => tableSchema(tableSpec(t))) });

/** What an app at each version ships: nothing to migrate at 1; at 2, how to move a version 1 database. */
const migrationsAt = (version: SchemaVersion) =>
	version === 1 ? schemaMigrations({ migrations: [] }) : migrations;
const migrations = schemaMigrations({
	migrations: [
		{
			toVersion: 2,
			steps: tablesAt(2)
				.filter((t) => t.since === 2)
				.map((t) => createTable(tableSpec(t))),
		},
	],
});

const models = new Map(
	tablesAt(LATEST_SCHEMA_VERSION).map((t) => {
		const model = class extends Model {};
		Object.defineProperty(model, "table", { value: t.name });
		return [t.name, model];
	}),
);
const modelsAt = (version: SchemaVersion) => tablesAt(version).map((t) => models.get(t.name) as typeof Model);

class SyncFailed extends Error {
	constructor(
		readonly status: number,
		body: string,
	) {
		super(`sync failed with ${status}: ${body}`);
	}
}

interface Device {
	database: Database;
	/** Runs synchronize() until the server says no more pages wait; returns how many pulls it took. */
	sync(): Promise<number>;
	/** One synchronize() call; `beforePush` runs between its pull and its push. */
	syncOnce(beforePush?: () => Promise<void>): Promise<{ hasMore: boolean }>;
}

function device(
	sub: string,
	version: SchemaVersion = 2,
	adapter?: InstanceType<typeof LokiJSAdapter>,
): Device {
	const database = new Database({
		adapter:
			adapter ??
			new LokiJSAdapter({
				schema: schemaAt(version),
				migrations: migrationsAt(version),
				useWebWorker: false,
				useIncrementalIndexedDB: true,
				extraLokiOptions: { autosave: false },
			}),
		modelClasses: modelsAt(version),
	});
	const headers = async () => ({ authorization: `Bearer ${await stack.token(SCOPE, sub)}` });
	const syncOnce = async (beforePush?: () => Promise<void>) => {
		let hasMore = false;
		await synchronize({
			database,
			migrationsEnabledAtVersion: 1,
			pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
				const query = `last_pulled_at=${lastPulledAt}&schema_version=${schemaVersion}&migration=${encodeURIComponent(JSON.stringify(migration))}&page_size=${PAGE_SIZE}`;
				const response = await fetch(`${stack.url}/v1/sync?${query}`, { headers: await headers() });
				if (!response.ok) throw new SyncFailed(response.status, await response.text());
				const body = await response.json();
				hasMore = body.has_more;
				return body;
			},
			pushChanges: async ({ changes, lastPulledAt }) => {
				await beforePush?.();
				const response = await fetch(`${stack.url}/v1/sync?last_pulled_at=${lastPulledAt}`, {
					method: "POST",
					headers: { ...(await headers()), "content-type": "application/json" },
					body: JSON.stringify({ changes, lastPulledAt }),
				});
				if (!response.ok) throw new SyncFailed(response.status, await response.text());
			},
		});
		return { hasMore };
	};
	return {
		database,
		syncOnce,
		async sync() {
			for (let pulls = 1; pulls <= 100; pulls++) {
				if (!(await syncOnce()).hasMore) return pulls;
			}
			throw new Error("still has_more after 100 pulls");
		},
	};
}

const count = (db: Database, table: string) => db.get(table).query().fetchCount();

async function rawOf(db: Database, table: string, id: string): Promise<Record<string, unknown>> {
	const record = await db.get(table).find(id);
	return record._raw as unknown as Record<string, unknown>;
}

async function serverCount(query: string, params: unknown[] = []): Promise<number> {
	return Number((await database.query(query, params)).rows[0]?.n);
}

async function someProject(offset = 0): Promise<string> {
	const result = await database.query(
		"select id::text as id from projects where deleted_at is null order by id offset $1 limit 1",
		[offset],
	);
	return result.rows[0].id;
}

describe("WatermelonDB synchronize() against the worker", () => {
	it("first sync: every record lands locally, page after page", async () => {
		const phone = device("watermelon-first");
		const pulls = await phone.sync();
		const projects = await serverCount("select count(*)::int as n from projects where deleted_at is null");
		expect(pulls).toBeGreaterThanOrEqual(Math.ceil((195 + 6 + projects) / PAGE_SIZE));
		expect(await count(phone.database, "nations")).toBe(195);
		expect(await count(phone.database, "sectors")).toBe(6);
		expect(await count(phone.database, "projects")).toBe(projects);
		expect(await count(phone.database, "notification_settings")).toBe(1);
		const kenya = await rawOf(phone.database, "nations", "KE");
		expect(kenya).toMatchObject({ name: "Kenya", iso3: "KEN", _status: "synced" });
	});

	it("pushes what was written offline and pulls what changed on the server", async () => {
		const phone = device("watermelon-roundtrip");
		await phone.sync();
		const [projectId, renamedId, deletedId] = [
			await someProject(0),
			await someProject(1),
			await someProject(2),
		];
		let reportId = "";
		await phone.database.write(async () => {
			const report = await phone.database.get("field_reports").create((r) => {
				r._setRaw("project_id", projectId);
				r._setRaw("note", "Borehole 3 is dry again");
				r._setRaw("lat", -1.28);
				r._setRaw("lng", 36.82);
			});
			reportId = report.id;
			await phone.database.get("bookmarks").create((r) => {
				r._setRaw("project_id", projectId);
			});
		});
		expect(await rawOf(phone.database, "field_reports", reportId)).toMatchObject({ _status: "created" });

		// Meanwhile, on the server: a project is renamed, and another deleted.
		await database.query(
			"update projects set name = name || ' (phase 2)', updated_at = now() where id = $1",
			[renamedId],
		);
		await database.query("update projects set deleted_at = now(), updated_at = now() where id = $1", [
			deletedId,
		]);

		await phone.sync();
		const stored = await database.query(
			"select user_id, note, lat, lng, project_id::text from field_reports where id = $1",
			[reportId],
		);
		expect(stored.rows).toEqual([
			{
				user_id: "watermelon-roundtrip",
				note: "Borehole 3 is dry again",
				lat: -1.28,
				lng: 36.82,
				project_id: projectId,
			},
		]);
		expect(
			await serverCount("select count(*)::int as n from bookmarks where user_id = 'watermelon-roundtrip'"),
		).toBe(1);
		expect(await rawOf(phone.database, "field_reports", reportId)).toMatchObject({ _status: "synced" });
		expect((await rawOf(phone.database, "projects", renamedId)).name).toMatch(/\(phase 2\)$/);
		await expect(phone.database.get("projects").find(deletedId)).rejects.toThrow();

		// Deleting locally deletes on the server.
		await phone.database.write(async () => {
			const report = await phone.database.get("field_reports").find(reportId);
			await report.markAsDeleted();
		});
		await phone.sync();
		expect(await serverCount("select count(*)::int as n from field_reports where id = $1", [reportId])).toBe(
			0,
		);
	});

	it("a push refused as a conflict succeeds after synchronize() pulls again, merging both devices' edits", async () => {
		const phone = device("watermelon-two-devices");
		const tablet = device("watermelon-two-devices");
		await phone.sync();
		const projectId = await someProject(3);
		let reportId = "";
		await phone.database.write(async () => {
			const report = await phone.database.get("field_reports").create((r) => {
				r._setRaw("project_id", projectId);
				r._setRaw("note", "Solar array installed");
			});
			reportId = report.id;
		});
		await phone.sync();
		await tablet.sync();

		// Both edit the report offline: the phone its note, the tablet its location.
		await phone.database.write(async () => {
			const report = await phone.database.get("field_reports").find(reportId);
			await report.update((r) => r._setRaw("note", "Solar array installed; inverter faulty"));
		});
		await tablet.database.write(async () => {
			const report = await tablet.database.get("field_reports").find(reportId);
			await report.update((r) => {
				r._setRaw("lat", 0.31);
				r._setRaw("lng", 32.58);
			});
		});
		// The phone syncs between the tablet's pull and its push: the tablet's push is refused whole.
		const refused = tablet.syncOnce(async () => {
			await phone.sync();
		});
		await expect(refused).rejects.toMatchObject({ status: 409 });
		expect((await rawOf(tablet.database, "field_reports", reportId))._status).toBe("updated");

		// The next synchronize() pulls the phone's note, keeps the tablet's location, and pushes the merge.
		await tablet.sync();
		const stored = await database.query("select note, lat, lng from field_reports where id = $1", [reportId]);
		expect(stored.rows[0]).toEqual({ note: "Solar array installed; inverter faulty", lat: 0.31, lng: 32.58 });
		await phone.sync();
		expect(await rawOf(phone.database, "field_reports", reportId)).toMatchObject({
			lat: 0.31,
			_status: "synced",
		});
	});

	it("a migration sync sends a table the app gained in an update", async () => {
		const oldAdapter = new LokiJSAdapter({
			schema: schemaAt(1),
			migrations: migrationsAt(1),
			useWebWorker: false,
			useIncrementalIndexedDB: true,
			// Saved on close into Loki's memory store, which the upgraded adapter below opens again (an app
			// update reopening the same database).
			extraLokiOptions: { autosave: true },
		});
		const before = device("watermelon-upgrade", 1, oldAdapter);
		await before.sync();
		expect(Object.keys(before.database.collections.map)).not.toContain("notification_settings");
		const projectsBefore = await count(before.database, "projects");

		const upgraded = device(
			"watermelon-upgrade",
			2,
			await oldAdapter.testClone({ schema: schemaAt(2), migrations }),
		);
		expect(await count(upgraded.database, "projects")).toBe(projectsBefore);
		expect(await count(upgraded.database, "notification_settings")).toBe(0);
		await upgraded.sync();
		expect(await count(upgraded.database, "notification_settings")).toBe(1);
	});
});
