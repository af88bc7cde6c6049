import { env } from "cloudflare:test";
import { and, asc, eq, sql as raw } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itemKey, resetIsolateCache } from "../../workers/cache/index.ts";
import { nations } from "../../workers/db/schema/nations.ts";
import { contributionFor } from "../../workers/domain/contribution.ts";
import type { GetNationResponse } from "../../workers/routes/nations/get-nation.ts";
import type { NationPageResponse } from "../../workers/routes/nations/list-nations.ts";
import type { UpdateNationResponse } from "../../workers/routes/nations/update-nation.ts";
import { bearer, uniqueSub } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import { createTempNations, deleteTempNations, recordEvents, sql } from "./fixtures.ts";

const TEMP = [
	{ iso2: "XA", iso3: "XAA" },
	{ iso2: "XB", iso3: "XBB" },
];
const sub = uniqueSub("nations-happy");
let viewer: Record<string, string>;
let admin: Record<string, string>;

beforeAll(async () => {
	viewer = await bearer("viewer", sub);
	admin = await bearer("admin", `${sub}-admin`);
	await createTempNations(TEMP);
});
afterAll(() => deleteTempNations(TEMP.map((n) => n.iso2)));

/** Follows next_cursor from the first page to the last, returning every row seen in order. */
async function walk(query: string, headers: Record<string, string>): Promise<GetNationResponse[]> {
	const seen: GetNationResponse[] = [];
	let cursor: string | null = null;
	for (let pages = 0; pages < 500; pages++) {
		const separator = query ? "&" : "";
		const path: string = `/v1/nations?${query}${separator}${cursor ? `cursor=${cursor}` : ""}`;
		const response = await call(path, { headers });
		expect(response.status, await response.clone().text()).toBe(200);
		const page = await json<NationPageResponse>(response);
		seen.push(...page.data);
		cursor = page.next_cursor;
		if (!cursor) return seen;
	}
	throw new Error("pagination did not end");
}

const isTemp = (iso2: string) => iso2.startsWith("X");

describe("GET /v1/nations/{code}", () => {
	it("finds a nation by alpha-2 or alpha-3 code in any case, with the same representation", async () => {
		const responses = await Promise.all(
			["KE", "ke", "KEN", "kEn"].map((code) => call(`/v1/nations/${code}`, { headers: viewer })),
		);
		const bodies = await Promise.all(responses.map((r) => json<GetNationResponse>(r)));
		for (const [i, response] of responses.entries()) {
			expect(response.status).toBe(200);
			expect(bodies[i]).toEqual(bodies[0]);
		}
		expect(bodies[0]).toMatchObject({
			iso2: "KE",
			iso3: "KEN",
			name: "Kenya",
			region: "Africa",
			serving_region: "jnb",
		});
		expect(responses[0]?.headers.get("etag")).toBe(responses[2]?.headers.get("etag"));
	});

	it("answers MISS from Postgres, then HIT from the isolate and from KV, then 304 on If-None-Match", async () => {
		resetIsolateCache();
		await env.CACHE.delete(itemKey("nations", "BR"));

		const first = await call("/v1/nations/BR", { headers: viewer });
		expect(first.status).toBe(200);
		expect(first.headers.get("x-cache")).toBe("MISS");
		expect(first.headers.get("cache-control")).toBe("private, no-cache");
		const etag = first.headers.get("etag");
		expect(etag).toMatch(/^"\d+-[\w-]+"$/);
		// The miss filled KV in waitUntil (call() waits for it).
		expect(await env.CACHE.get(itemKey("nations", "BR"))).toBe(await first.clone().text());

		const fromIsolate = await call("/v1/nations/BR", { headers: viewer });
		expect(fromIsolate.headers.get("x-cache")).toBe("HIT");
		expect(fromIsolate.headers.get("age")).toMatch(/^\d+$/);
		expect(await fromIsolate.text()).toBe(await first.text());

		resetIsolateCache();
		const fromKv = await call("/v1/nations/BR", { headers: viewer });
		expect(fromKv.headers.get("x-cache")).toBe("HIT");
		expect(fromKv.headers.get("etag")).toBe(etag);

		const notModified = await call("/v1/nations/BR", { headers: { ...viewer, "if-none-match": etag ?? "" } });
		expect(notModified.status).toBe(304);
		expect(await notModified.text()).toBe("");
		expect(notModified.headers.get("etag")).toBe(etag);
		expect(notModified.headers.get("x-cache")).toBe("HIT");

		const changedTag = await call("/v1/nations/BR", { headers: { ...viewer, "if-none-match": '"0-other"' } });
		expect(changedTag.status).toBe(200);
	});
});

describe("GET /v1/nations", () => {
	it("walks every nation exactly once, in iso2 order, across pages", async () => {
		const seen = (await walk("limit=17", viewer)).map((n) => n.iso2).filter((c) => !isTemp(c));
		const expected = (
			await sql((db) => db.select({ iso2: nations.iso2 }).from(nations).orderBy(asc(nations.iso2)))
		)
			.map((n) => n.iso2)
			.filter((c) => !isTemp(c));
		expect(seen).toEqual(expected);
		expect(new Set(seen).size).toBe(seen.length);
		expect(seen.length).toBeGreaterThanOrEqual(195);
	});

	it("filters by region (any case), serving region and status, and pages through the filtered rows", async () => {
		const seen = await walk("region=africa&serving_region=JNB&status=candidate&limit=5", viewer);
		const expected = await sql((db) =>
			db
				.select({ iso2: nations.iso2 })
				.from(nations)
				.where(
					and(
						eq(nations.region, "Africa"),
						eq(nations.servingRegion, "jnb"),
						eq(nations.covenantStatus, "candidate"),
					),
				)
				.orderBy(asc(nations.iso2)),
		);
		expect(seen.map((n) => n.iso2)).toEqual(expected.map((n) => n.iso2));
		expect(seen.length).toBeGreaterThan(5);
		for (const nation of seen) {
			expect(nation).toMatchObject({ region: "Africa", serving_region: "jnb", covenant_status: "candidate" });
		}
	});

	it("searches the full-text vector with web-search syntax", async () => {
		const republics = await walk(`q=${encodeURIComponent("republic -democratic")}&limit=2`, viewer);
		expect(republics.length).toBeGreaterThan(2);
		for (const n of republics) {
			expect(`${n.name} ${n.official_name}`.toLowerCase()).toContain("republic");
			expect(`${n.name} ${n.official_name}`.toLowerCase()).not.toContain("democratic");
		}
		const expected = await sql((db) =>
			db
				.select({ iso2: nations.iso2 })
				.from(nations)
				.where(raw`${nations.search} @@ websearch_to_tsquery('simple', 'republic -democratic')`)
				.orderBy(asc(nations.iso2)),
		);
		expect(republics.map((n) => n.iso2)).toEqual(expected.map((n) => n.iso2));

		const byCapital = await walk("q=nairobi", viewer);
		expect(byCapital.map((n) => n.iso2)).toEqual(["KE"]);
	});

	it("answers an empty last page for a search that matches nothing", async () => {
		const response = await call("/v1/nations?q=zzzzqqqq", { headers: viewer });
		expect(await json(response)).toEqual({ data: [], next_cursor: null });
	});

	it("caches list pages: MISS then HIT, with a 304 for the same ETag", async () => {
		resetIsolateCache();
		const path = `/v1/nations?region=Oceania&limit=3&q=${sub.slice(-8)}x`;
		const first = await call(path, { headers: viewer });
		expect(first.headers.get("x-cache")).toBe("MISS");
		const second = await call(path, { headers: viewer });
		expect(second.headers.get("x-cache")).toBe("HIT");
		const etag = second.headers.get("etag") ?? "";
		expect(etag).toBe(first.headers.get("etag"));
		const conditional = await call(path, { headers: { ...viewer, "if-none-match": `W/${etag}` } });
		expect(conditional.status).toBe(304);
	});
});

describe("PATCH /v1/nations/{code}", () => {
	it("lets an admin change the covenant status, recomputes the contribution, writes through and emits an event", async () => {
		const recorder = recordEvents();
		const before = await json<GetNationResponse>(await call("/v1/nations/XA", { headers: viewer }));
		const listBefore = await call("/v1/nations?serving_region=syd&status=active", { headers: viewer });
		expect((await json<NationPageResponse>(listBefore)).data.map((n) => n.iso2)).not.toContain("XA");

		const response = await call(
			"/v1/nations/xaa",
			{ method: "PATCH", headers: admin, json: { covenant_status: "active" } },
			recorder.env,
		);
		expect(response.status, await response.clone().text()).toBe(200);
		const updated = await json<UpdateNationResponse>(response);
		const expected = contributionFor({
			gdp_cents: before.gdp_cents,
			gdp_year: before.gdp_year,
			covenant_status: "active",
		});
		expect(updated).toMatchObject({
			iso2: "XA",
			covenant_status: "active",
			contribution_rate_ppm: expected.rate_ppm,
			annual_contribution_cents: expected.annual_contribution_cents,
			version: before.version + 1,
		});
		expect(updated.annual_contribution_cents).toBeGreaterThan(0);
		expect(response.headers.get("cache-control")).toBe("no-store");
		expect(response.headers.get("consistency-token")).toBeTruthy();
		const etag = response.headers.get("etag");

		// Postgres holds the change.
		const [row] = await sql((db) => db.select().from(nations).where(eq(nations.iso2, "XA")));
		expect(row).toMatchObject({
			covenantStatus: "active",
			annualContributionCents: expected.annual_contribution_cents,
		});

		// The same edge reads its own write at once, from the cache, under both codes.
		for (const code of ["XA", "XAA"]) {
			const read = await call(`/v1/nations/${code}`, { headers: viewer });
			expect(read.headers.get("x-cache")).toBe("HIT");
			expect(read.headers.get("etag")).toBe(etag);
			expect(await json<GetNationResponse>(read)).toEqual(updated);
		}
		// List pages that depended on the old version are not served any more.
		const listAfter = await call("/v1/nations?serving_region=syd&status=active", { headers: viewer });
		expect(listAfter.headers.get("x-cache")).toBe("MISS");
		expect((await json<NationPageResponse>(listAfter)).data.map((n) => n.iso2)).toContain("XA");

		const event = recorder.events.find(
			(e) => e.type === "covenant.countries.updated" && e.subject === "nations/XA",
		);
		expect(event).toMatchObject({
			specversion: "1.0",
			id: `nation:XA:v${updated.version}`,
			data: {
				nation: "XA",
				changed: expect.arrayContaining(["covenant_status", "annual_contribution_cents"]),
			},
		});
	});

	it("lets the nation's governor change its contribution basis, honouring If-Match", async () => {
		const governor = await bearer("nation:XB", `${sub}-governor-xb`);
		const current = await call("/v1/nations/XB", { headers: governor });
		const etag = current.headers.get("etag") ?? "";
		const response = await call(
			"/v1/nations/XB",
			{
				method: "PATCH",
				headers: { ...governor, "if-match": etag },
				json: { gdp_cents: 1_234_567_890_123, gdp_year: 2024 },
			},
			recordEvents().env,
		);
		expect(response.status, await response.clone().text()).toBe(200);
		const updated = await json<UpdateNationResponse>(response);
		const expected = contributionFor({
			gdp_cents: 1_234_567_890_123,
			gdp_year: 2024,
			covenant_status: "candidate",
		});
		expect(updated).toMatchObject({
			gdp_cents: 1_234_567_890_123,
			gdp_year: 2024,
			contribution_rate_ppm: expected.rate_ppm,
			annual_contribution_cents: 0,
		});
		expect(response.headers.get("etag")).not.toBe(etag);
	});

	it("changes nothing (no version bump, no event) when the values are already current", async () => {
		const recorder = recordEvents();
		const current = await json<GetNationResponse>(await call("/v1/nations/XB", { headers: viewer }));
		const response = await call(
			"/v1/nations/XB",
			{ method: "PATCH", headers: admin, json: { gdp_cents: current.gdp_cents, gdp_year: current.gdp_year } },
			recorder.env,
		);
		expect(response.status).toBe(200);
		expect((await json<UpdateNationResponse>(response)).version).toBe(current.version);
		expect(recorder.events.filter((e) => String(e.type).startsWith("covenant."))).toEqual([]);
	});

	it("hands back a consistency token that forces fresh data where the cache has not caught up yet", async () => {
		const write = await call(
			"/v1/nations/XB",
			{ method: "PATCH", headers: admin, json: { gdp_cents: 2_000_000_000_000, gdp_year: 2024 } },
			recordEvents().env,
		);
		expect(write.status).toBe(200);
		const written = await json<UpdateNationResponse>(write);
		const token = write.headers.get("consistency-token") ?? "";

		// Simulate another location: its KV still holds the previous representation, its isolate nothing.
		const key = itemKey("nations", "XB");
		const stored = await env.CACHE.getWithMetadata<{ v: number }>(key);
		const stale = { ...written, gdp_cents: 1, version: written.version - 1 };
		await env.CACHE.put(key, JSON.stringify(stale), {
			metadata: { ...stored.metadata, v: written.version - 1 },
		});
		resetIsolateCache();

		const withoutToken = await call("/v1/nations/XB", { headers: viewer });
		expect((await json<GetNationResponse>(withoutToken)).gdp_cents).toBe(1);

		resetIsolateCache();
		const withToken = await call("/v1/nations/XB", { headers: { ...viewer, "consistency-token": token } });
		expect(withToken.headers.get("x-cache")).toBe("MISS");
		expect(await json<GetNationResponse>(withToken)).toEqual(written);
		// …and the fresh read repaired the cache for everyone.
		const after = await call("/v1/nations/XB", { headers: viewer });
		expect((await json<GetNationResponse>(after)).gdp_cents).toBe(2_000_000_000_000);
	});
});
