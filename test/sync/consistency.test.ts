import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openDb } from "../../workers/db/client.ts";
import {
	byId,
	db,
	deletedIds,
	deleteProjects,
	insertProject,
	type PullResponse,
	pull,
	pullAll,
} from "./support.ts";

const mine: string[] = [];
afterAll(() => deleteProjects(mine));

let base: number;
beforeAll(async () => {
	base = (await pullAll("admin", { last_pulled_at: null })).at(-1)?.timestamp as number;
});

const idsOf = (pages: PullResponse[], table = "projects") =>
	pages.flatMap((p) => [
		...byId(p.changes, table, "created").keys(),
		...byId(p.changes, table, "updated").keys(),
		...deletedIds(p.changes, table),
	]);

/** `table/id` of every synced row changed or deleted after `ms`. */
async function touchedSince(ms: number): Promise<Set<string>> {
	const rows = await db(
		async (d) =>
			(
				await d.execute<{ key: string }>(sql`
				select 'nations/' || iso2 as key from nations where sync_changed_ms > ${ms}
				union select 'sectors/' || slug from sectors where sync_changed_ms > ${ms}
				union select 'projects/' || id::text from projects where sync_changed_ms > ${ms}
				union select table_name || '/' || row_id from sync_tombstones where changed_ms > ${ms}`)
			).rows,
	);
	return new Set(rows.map((r) => r.key));
}

describe("GET /v1/sync: pagination", () => {
	it("splits a first sync into pages that add up to exactly the unpaginated answer", async () => {
		const whole = await pull("admin", { last_pulled_at: null, page_size: 2000 });
		expect(whole.has_more).toBe(false);
		const pages = await pullAll("admin", { last_pulled_at: null, page_size: 100 });
		expect(pages.length).toBeGreaterThanOrEqual(8);
		for (const page of pages.slice(0, -1)) expect(page.has_more).toBe(true);
		expect(pages.at(-1)?.has_more).toBe(false);

		// Other test files write concurrently; rows they touched since the unpaginated read may legitimately
		// differ (or be sent again, as their new version): compare everything else.
		const touched = await touchedSince(whole.timestamp);
		const untouched = (table: string) => (id: string) => !touched.has(`${table}/${id}`);
		for (const table of ["nations", "sectors", "projects"]) {
			const created = pages
				.flatMap((p) => [...byId(p.changes, table, "created").keys()])
				.filter(untouched(table));
			expect(new Set(created).size, `${table}: no record twice`).toBe(created.length);
			const all = [...byId(whole.changes, table, "created").keys()].filter(untouched(table));
			expect(new Set(created), table).toEqual(new Set(all));
			// Later pages may name deletions the client never received (it ignores those), never a live record.
			const deleted = pages.flatMap((p) => deletedIds(p.changes, table)).filter(untouched(table));
			expect(deleted.filter((id) => all.includes(id))).toEqual([]);
		}
		// Every page of a first sync sends records as created (the client is filling an empty database): its
		// page ends are odd timestamps, which is how the next pull knows. No page is much larger than asked (a
		// millisecond is never split, so a little more is allowed).
		for (const page of pages.slice(0, -1)) expect(page.timestamp % 2, "a first sync's page end").toBe(1);
		expect((pages.at(-1)?.timestamp ?? 1) % 2).toBe(0);
		for (const page of pages) {
			for (const table of Object.values(page.changes)) expect(table?.updated).toEqual([]);
			const size = Object.values(page.changes).reduce(
				(n, t) => n + (t?.created.length ?? 0) + (t?.updated.length ?? 0) + (t?.deleted.length ?? 0),
				0,
			);
			expect(size).toBeLessThanOrEqual(200);
		}
	});
});

// PGlite runs one transaction at a time (its socket server queues every other connection until the open
// transaction ends), so a write transaction in flight during a pull can only happen on a real server.
describe.skipIf(inject("databaseKind") !== "postgres")(
	"GET /v1/sync: a write in flight during a pull",
	() => {
		it("is neither missed (stamped before the pull, committed after) nor sent twice", async () => {
			const writer = openDb(env);
			let slow: { id: string; stamp: number } | undefined;
			let during: PullResponse | undefined;
			let quick: { id: string } | undefined;
			try {
				await writer.db.transaction(async (tx) => {
					const inserted = await tx.execute<{ id: string; stamp: number }>(sql`
					insert into projects (name, sector, nation_iso2, serving_region, region, status, budget_cents,
						expected_yield_bps, lat, lng, summary)
					values ('Sync test slow writer', 'energy', 'KE', 'jnb', 'Africa', 'proposed', 100000, 500, 0, 0, 'slow')
					returning id::text as id, sync_changed_ms::float8 as stamp`);
					slow = inserted.rows[0];
					if (slow) mine.push(slow.id);
					await new Promise((r) => setTimeout(r, 20));
					// A quick writer commits meanwhile, stamped later than the slow one.
					quick = await insertProject("quick writer");
					mine.push(quick.id);
					during = await pull("admin", { last_pulled_at: base, page_size: 2000 });
				});
			} finally {
				await writer.close();
			}
			if (!slow || !during || !quick) throw new Error("setup failed");
			// The pull stopped before the open transaction's first stamp: a pull up to "now" would have passed it,
			// and the slow writer's row, committed later with an older stamp, would never have been sent.
			expect(during.timestamp).toBeLessThan(slow.stamp);
			const duringIds = idsOf([during]);
			expect(duringIds).not.toContain(slow.id);
			expect(duringIds).not.toContain(quick.id);

			const after = await pullAll("admin", { last_pulled_at: during.timestamp });
			const afterCreated = after.flatMap((p) => [...byId(p.changes, "projects", "created").keys()]);
			expect(afterCreated).toEqual(expect.arrayContaining([slow.id, quick.id]));

			const again = await pullAll("admin", { last_pulled_at: after.at(-1)?.timestamp as number });
			expect(idsOf(again)).not.toContain(slow.id);
			expect(idsOf(again)).not.toContain(quick.id);
		});
	},
);
