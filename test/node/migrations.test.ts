import { mkdtemp, readFile, rm, writeFile, cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareDatabase, type PreparedDatabase } from "../../scripts/lib/database.ts";
import { runMigrations } from "../../scripts/lib/migrate.ts";

// Against TEST_DATABASE_URL's server when set (a fresh database), else an in-memory PGlite.
describe("migrations", () => {
	let database: PreparedDatabase;
	let client: pg.Client;

	beforeAll(async () => {
		database = await prepareDatabase({ serverUrl: process.env.TEST_DATABASE_URL, fresh: true, seed: true });
		client = new pg.Client(database.url);
		await client.connect();
	});
	afterAll(async () => {
		await client?.end();
		await database?.dispose();
	});

	it("re-running applies nothing and leaves the data as it was", async () => {
		const before = await client.query("select count(*)::int as n from projects");
		const again = await runMigrations(client);
		expect(again.applied).toEqual([]);
		expect(again.skipped.length).toBeGreaterThan(0);
		const after = await client.query("select count(*)::int as n from projects");
		expect(after.rows[0].n).toBe(before.rows[0].n);
		expect(before.rows[0].n).toBeGreaterThanOrEqual(500);
	});

	it("refuses a migration whose file changed after it was applied", async () => {
		const dir = await mkdtemp(join(tmpdir(), "covenant-migrations-"));
		try {
			await cp(new URL("../../migrations/", import.meta.url).pathname, dir, { recursive: true });
			const journal = JSON.parse(await readFile(join(dir, "meta", "_journal.json"), "utf8"));
			const first = join(dir, `${journal.entries[0].tag}.sql`);
			await writeFile(first, `${await readFile(first, "utf8")}\n-- edited after the fact\n`);
			await expect(runMigrations(client, dir)).rejects.toThrow(/already applied but its file has changed/);
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	});

	it("seeding twice changes nothing", async () => {
		const { applySeeds } = await import("../../seeds/apply.ts");
		const { seedData } = await import("../../seeds/index.ts");
		const result = await applySeeds((text, params) => client.query(text, params as unknown[]), seedData);
		expect(result.changed).toEqual({ sectors: 0, nations: 0, projects: 0 });
		const nations = await client.query(
			"select count(*)::int as n, count(gdp_cents)::int as with_gdp from nations",
		);
		expect(nations.rows[0]).toEqual({ n: 195, with_gdp: 193 });
	});
});
