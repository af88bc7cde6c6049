import { and, eq, isNull, sql as raw } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resetIsolateCache } from "../../workers/cache/index.ts";
import { projects } from "../../workers/db/schema/projects.ts";
import { SERVING_REGIONS } from "../../workers/domain/serving-regions.ts";
import type { GetSectorResponse } from "../../workers/routes/sectors/get-sector.ts";
import type { SectorListResponse } from "../../workers/routes/sectors/list-sectors.ts";
import { bearer, uniqueSub } from "../support/auth.ts";
import { call, json, STOPPED_DATABASE } from "../support/http.ts";
import { recordEvents, sql } from "../nations/fixtures.ts";
import { createProject, deleteProjects, projectBody } from "../projects/fixtures.ts";

const sub = uniqueSub("sectors-happy");
const marker = `zs${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
const created: string[] = [];
let reader: Record<string, string>;
let admin: Record<string, string>;

beforeAll(async () => {
	// A governor of one nation: sectors are reference data every principal reads, totals included.
	reader = await bearer("nation:KE", sub);
	admin = await bearer("admin", `${sub}-admin`);
});
afterAll(() => deleteProjects(created));

describe("GET /v1/sectors", () => {
	it("lists the six sectors in slug order, each with its live projects' totals", async () => {
		const response = await call("/v1/sectors", { headers: reader });
		expect(response.status).toBe(200);
		const { data } = await json<SectorListResponse>(response);
		expect(data.map((s) => s.slug)).toEqual([
			"agriculture",
			"education",
			"energy",
			"health",
			"minerals",
			"tech",
		]);
		for (const sector of data) {
			expect(sector.project_count).toBeGreaterThan(0);
			expect(Number.isSafeInteger(sector.budget_cents)).toBe(true);
			expect(sector.funded_cents).toBeLessThanOrEqual(sector.budget_cents);
		}
		expect(response.headers.get("etag")).toBeTruthy();
		const again = await call("/v1/sectors", {
			headers: { ...reader, "if-none-match": response.headers.get("etag") ?? "" },
		});
		expect([200, 304]).toContain(again.status);
	});
});

describe("GET /v1/sectors/{slug}", () => {
	it("breaks the totals down per serving region, all six, matching Postgres", async () => {
		resetIsolateCache();
		const response = await call("/v1/sectors/Agriculture", { headers: reader });
		expect(response.status).toBe(200);
		const sector = await json<GetSectorResponse>(response);
		expect(sector.slug).toBe("agriculture");
		expect(sector.by_serving_region.map((r) => r.serving_region)).toEqual([...SERVING_REGIONS]);
		const sum = (field: "project_count" | "budget_cents" | "funded_cents") =>
			sector.by_serving_region.reduce((total, r) => total + r[field], 0);
		expect(sum("project_count")).toBe(sector.project_count);
		expect(sum("budget_cents")).toBe(sector.budget_cents);
		expect(sum("funded_cents")).toBe(sector.funded_cents);

		const rows = await sql((db) =>
			db
				.select({
					region: projects.servingRegion,
					count: raw<number>`count(*)::int`.mapWith(Number),
					budget: raw<number>`sum(${projects.budgetCents})::bigint`.mapWith(Number),
				})
				.from(projects)
				.where(and(eq(projects.sector, "agriculture"), isNull(projects.deletedAt)))
				.groupBy(projects.servingRegion),
		);
		for (const row of rows) {
			expect(sector.by_serving_region.find((r) => r.serving_region === row.region)).toMatchObject({
				project_count: row.count,
				budget_cents: row.budget,
			});
		}
	});

	it("is cached (MISS, then HIT) and reflects a project write at once on the same edge", async () => {
		resetIsolateCache();
		const first = await call("/v1/sectors/minerals", { headers: reader });
		const second = await call("/v1/sectors/minerals", { headers: reader });
		expect(second.headers.get("x-cache")).toBe("HIT");
		const before = await json<GetSectorResponse>(first);

		const body = projectBody(marker, {
			name: `Test ${marker} Tailings Cleanup`,
			sector: "minerals",
			budget_cents: 123_456_789,
			funded_cents: 0,
		});
		await createProject(admin, body, created, recordEvents().env);
		const afterResponse = await call("/v1/sectors/minerals", { headers: reader });
		expect(afterResponse.headers.get("x-cache")).toBe("MISS");
		const after = await json<GetSectorResponse>(afterResponse);
		const jnb = (s: GetSectorResponse) => s.by_serving_region.find((r) => r.serving_region === "jnb");
		expect(jnb(after)?.project_count).toBe((jnb(before)?.project_count ?? 0) + 1);
		expect(jnb(after)?.budget_cents).toBe((jnb(before)?.budget_cents ?? 0) + 123_456_789);
		expect(after.project_count).toBe(before.project_count + 1);
		expect(afterResponse.headers.get("etag")).not.toBe(first.headers.get("etag"));
	});

	it("keeps serving the cached sector as STALE while Postgres is stopped", async () => {
		expect((await call("/v1/sectors/health", { headers: reader })).status).toBe(200);
		const stale = await call(
			"/v1/sectors/health",
			{ headers: reader },
			{ ...STOPPED_DATABASE, CACHE_FRESH_SECONDS: "0" },
		);
		expect(stale.status).toBe(200);
		expect(stale.headers.get("x-cache")).toBe("STALE");
		expect(stale.headers.get("warning")).toContain("Stale");
	});
});
