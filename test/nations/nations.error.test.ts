import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itemKey, resetIsolateCache } from "../../workers/cache/index.ts";
import { nations } from "../../workers/db/schema/nations.ts";
import type { Problem } from "../../workers/lib/problem.ts";
import type { NationPageResponse } from "../../workers/routes/nations/list-nations.ts";
import { bearer, tamperedToken, uniqueSub } from "../support/auth.ts";
import { call, json, STOPPED_DATABASE } from "../support/http.ts";
import { createTempNations, deleteTempNations, recordEvents, sql } from "./fixtures.ts";

const TEMP = [
	{ iso2: "XC", iso3: "XCC" },
	{ iso2: "XD", iso3: "XDD" },
];
const sub = uniqueSub("nations-error");
let viewer: Record<string, string>;
let admin: Record<string, string>;
let governorXC: Record<string, string>;

beforeAll(async () => {
	viewer = await bearer("viewer", sub);
	admin = await bearer("admin", `${sub}-admin`);
	governorXC = await bearer("nation:XC", `${sub}-governor`);
	await createTempNations(TEMP);
});
afterAll(() => deleteTempNations(TEMP.map((n) => n.iso2)));

async function expectProblem(response: Response, status: number, code: string): Promise<Problem> {
	expect(response.status, await response.clone().text()).toBe(status);
	expect(response.headers.get("content-type")).toBe("application/problem+json");
	const problem = await json<Problem>(response);
	expect(problem).toMatchObject({ status, code, type: expect.stringContaining(code) });
	expect(problem.detail).toBeTruthy();
	return problem;
}

/** Postgres row and KV entry of a nation, to prove a refused write changed neither. */
async function snapshot(iso2: string) {
	const [row] = await sql((db) => db.select().from(nations).where(eq(nations.iso2, iso2)));
	const cached = await env.CACHE.getWithMetadata(itemKey("nations", iso2));
	return { row, cached };
}

describe("reads: authentication and validation", () => {
	it("answers 401 problem+json without a valid token", async () => {
		await expectProblem(await call("/v1/nations"), 401, "unauthorized");
		await expectProblem(await call("/v1/nations/KE"), 401, "unauthorized");
		const tampered = { authorization: `Bearer ${await tamperedToken("viewer", sub)}` };
		await expectProblem(await call("/v1/nations/KE", { headers: tampered }), 401, "unauthorized");
	});

	it("answers 400 for a malformed code and 404 for an unknown one", async () => {
		for (const code of ["K1", "KENY", "k"]) {
			const problem = await expectProblem(
				await call(`/v1/nations/${code}`, { headers: viewer }),
				400,
				"invalid_request",
			);
			expect(problem.errors?.[0]?.path).toEqual(["code"]);
		}
		const missing = await expectProblem(await call("/v1/nations/QQ", { headers: viewer }), 404, "not_found");
		expect(missing.detail).toContain("QQ");
		await expectProblem(await call("/v1/nations/QQQ", { headers: viewer }), 404, "not_found");
	});

	it("refuses bad list parameters with the zod issues", async () => {
		const cases: [string, string][] = [
			["limit=0", "limit"],
			["limit=201", "limit"],
			["limit=ten", "limit"],
			["region=Atlantis", "region"],
			["serving_region=lhr", "serving_region"],
			["status=annexed", "status"],
			["status=active&status=candidate", "status"],
			[`q=${"x".repeat(201)}`, "q"],
		];
		for (const [query, field] of cases) {
			const problem = await expectProblem(
				await call(`/v1/nations?${query}`, { headers: viewer }),
				400,
				"invalid_request",
			);
			expect(problem.errors?.map((e) => e.path.join("."))).toContain(field);
		}
		const unknown = await expectProblem(
			await call("/v1/nations?colour=red", { headers: viewer }),
			400,
			"invalid_request",
		);
		expect(JSON.stringify(unknown.errors)).toContain("colour");
	});

	it("refuses a cursor it did not issue, or one issued for other filters", async () => {
		const garbage = await expectProblem(
			await call("/v1/nations?cursor=not-a-cursor", { headers: viewer }),
			400,
			"invalid_request",
		);
		expect(garbage.errors?.[0]?.path).toEqual(["query", "cursor"]);

		const first = await json<NationPageResponse>(
			await call("/v1/nations?region=Europe&limit=2", { headers: viewer }),
		);
		expect(first.next_cursor).toBeTruthy();
		const elsewhere = await call(`/v1/nations?region=Asia&limit=2&cursor=${first.next_cursor}`, {
			headers: viewer,
		});
		const problem = await expectProblem(elsewhere, 400, "invalid_request");
		expect(problem.detail).toContain("different filters");
		// The same filters in another order and case are the same filters.
		const same = await call(`/v1/nations?limit=2&cursor=${first.next_cursor}&region=europe`, {
			headers: viewer,
		});
		expect(same.status).toBe(200);
	});

	it("refuses a malformed consistency token", async () => {
		const problem = await expectProblem(
			await call("/v1/nations/KE", { headers: { ...viewer, "consistency-token": "bogus!" } }),
			400,
			"invalid_request",
		);
		expect(problem.errors?.[0]?.path).toEqual(["headers", "consistency-token"]);
	});
});

describe("reads while Postgres is stopped", () => {
	it("keeps serving a cached nation past its freshness as STALE, with Warning and Age", async () => {
		const fresh = await call("/v1/nations/XC", { headers: viewer });
		expect(fresh.status).toBe(200);
		const body = await fresh.text();

		const stale = await call(
			"/v1/nations/XC",
			{ headers: viewer },
			{ ...STOPPED_DATABASE, CACHE_FRESH_SECONDS: "0" },
		);
		expect(stale.status).toBe(200);
		expect(stale.headers.get("x-cache")).toBe("STALE");
		expect(stale.headers.get("warning")).toBe('110 - "Response is Stale"');
		expect(stale.headers.get("age")).toMatch(/^\d+$/);
		expect(stale.headers.get("etag")).toBe(fresh.headers.get("etag"));
		expect(await stale.text()).toBe(body);

		// A fresh entry needs no Postgres at all: a plain HIT even while it is stopped.
		const hit = await call("/v1/nations/XC", { headers: viewer }, STOPPED_DATABASE);
		expect(hit.headers.get("x-cache")).toBe("HIT");
	});

	it("serves a cached list page as STALE too", async () => {
		const path = "/v1/nations?serving_region=syd&limit=3";
		expect((await call(path, { headers: viewer })).status).toBe(200);
		const stale = await call(path, { headers: viewer }, { ...STOPPED_DATABASE, CACHE_FRESH_SECONDS: "0" });
		expect(stale.status).toBe(200);
		expect(stale.headers.get("x-cache")).toBe("STALE");
	});

	it("answers 503 problem+json for what is not cached, and once the stale window has passed", async () => {
		resetIsolateCache();
		await env.CACHE.delete(itemKey("nations", "XD"));
		const uncached = await call("/v1/nations/XD", { headers: viewer }, STOPPED_DATABASE);
		await expectProblem(uncached, 503, "unavailable");
		expect(uncached.headers.get("retry-after")).toBeTruthy();

		expect((await call("/v1/nations/XC", { headers: viewer })).status).toBe(200);
		const tooOld = await call(
			"/v1/nations/XC",
			{ headers: viewer },
			{ ...STOPPED_DATABASE, CACHE_FRESH_SECONDS: "0", CACHE_STALE_SECONDS: "0" },
		);
		await expectProblem(tooOld, 503, "unavailable");
	});
});

describe("PATCH /v1/nations/{code}: refused writes change nothing", () => {
	it("refuses callers without nations:write, and a governor of another nation", async () => {
		const before = await snapshot("XD");
		await expectProblem(
			await call("/v1/nations/XD", { method: "PATCH", json: { gdp_cents: 1, gdp_year: 2024 } }),
			401,
			"unauthorized",
		);
		const asViewer = await call("/v1/nations/XD", {
			method: "PATCH",
			headers: viewer,
			json: { gdp_cents: 1, gdp_year: 2024 },
		});
		await expectProblem(asViewer, 403, "forbidden");
		const otherNation = await call("/v1/nations/XD", {
			method: "PATCH",
			headers: governorXC,
			json: { gdp_cents: 1, gdp_year: 2024 },
		});
		expect((await expectProblem(otherNation, 403, "forbidden")).detail).toContain("XD");
		expect(await snapshot("XD")).toEqual(before);
	});

	it("refuses the covenant status from a governor with 403 naming the field", async () => {
		const before = await snapshot("XC");
		const response = await call("/v1/nations/XC", {
			method: "PATCH",
			headers: governorXC,
			json: { covenant_status: "active", gdp_cents: 7, gdp_year: 2024 },
		});
		const problem = await expectProblem(response, 403, "forbidden");
		expect(problem.detail).toContain("covenant_status");
		expect(problem.errors).toEqual([
			expect.objectContaining({ path: ["covenant_status"], code: "forbidden_field" }),
		]);
		expect(await snapshot("XC")).toEqual(before);
	});

	it("refuses read-only, computed and unknown fields instead of ignoring them", async () => {
		const before = await snapshot("XC");
		for (const body of [
			{ annual_contribution_cents: 1 },
			{ contribution_rate_ppm: 1 },
			{ version: 9, gdp_cents: 1, gdp_year: 2024 },
			{ serving_region: "ams" },
			{ updated_at: "2020-01-01T00:00:00Z" },
			{ name: "Renamed" },
		]) {
			const response = await call("/v1/nations/XC", { method: "PATCH", headers: admin, json: body });
			const problem = await expectProblem(response, 400, "invalid_request");
			const field = Object.keys(body)[0] ?? "";
			expect(JSON.stringify(problem.errors)).toContain(`${field} (read-only)`);
		}
		const unknown = await call("/v1/nations/XC", { method: "PATCH", headers: admin, json: { motto: "x" } });
		expect(JSON.stringify((await expectProblem(unknown, 400, "invalid_request")).errors)).toContain(
			"motto (unknown field)",
		);
		expect(await snapshot("XC")).toEqual(before);
	});

	it("refuses invalid values: non-integer or unsafe money, half a GDP pair, unknown status, empty body", async () => {
		const before = await snapshot("XC");
		const bodies: [string, string][] = [
			['{"gdp_cents": 1.5, "gdp_year": 2024}', "gdp_cents"],
			['{"gdp_cents": 9007199254740992, "gdp_year": 2024}', "gdp_cents"],
			['{"gdp_cents": -1, "gdp_year": 2024}', "gdp_cents"],
			['{"gdp_cents": "100", "gdp_year": 2024}', "gdp_cents"],
			['{"gdp_cents": 100}', "gdp_year"],
			['{"gdp_cents": null, "gdp_year": 2024}', "gdp_year"],
			['{"covenant_status": "annexed"}', "covenant_status"],
			["{}", ""],
			["[]", ""],
		];
		for (const [body, field] of bodies) {
			const response = await call("/v1/nations/XC", {
				method: "PATCH",
				headers: { ...admin, "content-type": "application/json" },
				body,
			});
			const problem = await expectProblem(response, 400, "invalid_request");
			expect(problem.errors?.length, body).toBeGreaterThan(0);
			if (field)
				expect(
					problem.errors?.map((e) => e.path.join(".")),
					body,
				).toContain(field);
		}
		expect(await snapshot("XC")).toEqual(before);
	});

	it("answers 412 with the current ETag when If-Match names an older one", async () => {
		const current = await call("/v1/nations/XC", { headers: admin });
		const before = await snapshot("XC");
		const response = await call("/v1/nations/XC", {
			method: "PATCH",
			headers: { ...admin, "if-match": '"0-outdated"' },
			json: { gdp_cents: 5, gdp_year: 2024 },
		});
		await expectProblem(response, 412, "precondition_failed");
		expect(response.headers.get("etag")).toBe(current.headers.get("etag"));
		// A weak tag never satisfies If-Match.
		const weak = await call("/v1/nations/XC", {
			method: "PATCH",
			headers: { ...admin, "if-match": `W/${current.headers.get("etag")}` },
			json: { gdp_cents: 5, gdp_year: 2024 },
		});
		await expectProblem(weak, 412, "precondition_failed");
		expect(await snapshot("XC")).toEqual(before);
	});

	it("answers 503 and leaves Postgres, KV and the event queues untouched when Postgres is stopped", async () => {
		await call("/v1/nations/XC", { headers: viewer });
		const before = await snapshot("XC");
		const recorder = recordEvents();
		const response = await call(
			"/v1/nations/XC",
			{ method: "PATCH", headers: admin, json: { covenant_status: "suspended" } },
			{ ...STOPPED_DATABASE, ...recorder.env },
		);
		await expectProblem(response, 503, "unavailable");
		expect(await snapshot("XC")).toEqual(before);
		expect(recorder.events.filter((e) => String(e.type).startsWith("covenant."))).toEqual([]);
	});

	it("answers 404 for an unknown nation", async () => {
		await expectProblem(
			await call("/v1/nations/QQ", { method: "PATCH", headers: admin, json: { covenant_status: "active" } }),
			404,
			"not_found",
		);
	});
});

describe("HTTP rules on the nations routes", () => {
	it("answers 405 with Allow for a method the path does not serve, even with a non-JSON body", async () => {
		for (const init of [
			{ method: "DELETE" },
			{ method: "PUT", headers: { "content-type": "text/plain" }, body: "x" },
			{ method: "POST", json: {} },
		]) {
			const response = await call("/v1/nations/XC", { ...init, headers: { ...admin, ...init.headers } });
			await expectProblem(response, 405, "method_not_allowed");
			expect(response.headers.get("allow")).toBe("GET, PATCH");
		}
		const list = await call("/v1/nations", { method: "POST", headers: admin, json: {} });
		await expectProblem(list, 405, "method_not_allowed");
		expect(list.headers.get("allow")).toBe("GET");
	});

	it("answers 415 for a body that is not JSON, 406 when JSON is not acceptable, 413 above 1 MiB", async () => {
		const before = await snapshot("XC");
		for (const type of ["text/plain", "application/x-www-form-urlencoded", ""]) {
			const response = await call("/v1/nations/XC", {
				method: "PATCH",
				headers: type ? { ...admin, "content-type": type } : admin,
				body: "gdp_cents=5&gdp_year=2024",
			});
			await expectProblem(response, 415, "unsupported_media_type");
		}
		await expectProblem(
			await call("/v1/nations/XC", { headers: { ...viewer, accept: "text/html" } }),
			406,
			"not_acceptable",
		);
		expect(
			(await call("/v1/nations/XC", { headers: { ...viewer, accept: "application/json;q=0.9, */*;q=0.1" } }))
				.status,
		).toBe(200);
		const huge = JSON.stringify({ gdp_cents: 5, gdp_year: 2024, padding: "x".repeat(1024 * 1024) });
		await expectProblem(
			await call("/v1/nations/XC", {
				method: "PATCH",
				headers: { ...admin, "content-type": "application/json" },
				body: huge,
			}),
			413,
			"payload_too_large",
		);
		expect(await snapshot("XC")).toEqual(before);
	});
});
