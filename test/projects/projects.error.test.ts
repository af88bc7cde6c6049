import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itemKey } from "../../workers/cache/index.ts";
import { projects } from "../../workers/db/schema/projects.ts";
import type { Problem } from "../../workers/lib/problem.ts";
import type { CreateProjectResponse } from "../../workers/routes/projects/create-project.ts";
import type { ProjectPageResponse } from "../../workers/routes/projects/list-projects.ts";
import { bearer, uniqueSub } from "../support/auth.ts";
import { call, json, STOPPED_DATABASE } from "../support/http.ts";
import { recordEvents, sql } from "../nations/fixtures.ts";
import { createProject, deleteProjects, projectBody } from "./fixtures.ts";

const sub = uniqueSub("projects-error");
const marker = `zr${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
const created: string[] = [];
let admin: Record<string, string>;
let viewer: Record<string, string>;
let governorKE: Record<string, string>;
/** A project of this suite in KE, energy (serving region jnb), created by an admin. */
let kenyan: CreateProjectResponse;

beforeAll(async () => {
	admin = await bearer("admin", `${sub}-admin`);
	viewer = await bearer("viewer", sub);
	governorKE = await bearer("nation:KE", `${sub}-governor`);
	kenyan = (await createProject(admin, projectBody(marker), created, recordEvents().env)).project;
});
afterAll(() => deleteProjects(created));

async function expectProblem(response: Response, status: number, code: string): Promise<Problem> {
	expect(response.status, await response.clone().text()).toBe(status);
	expect(response.headers.get("content-type")).toBe("application/problem+json");
	const problem = await json<Problem>(response);
	expect(problem).toMatchObject({ status, code });
	return problem;
}

/** Postgres row and KV entry of a project, to prove a refused write changed neither. */
async function snapshot(id: string) {
	const [row] = await sql((db) => db.select().from(projects).where(eq(projects.id, id)));
	const cached = await env.CACHE.getWithMetadata(itemKey("projects", id));
	return { row, cached };
}

async function countByName(name: string): Promise<number> {
	return (await sql((db) => db.select({ id: projects.id }).from(projects).where(eq(projects.name, name))))
		.length;
}

describe("security", () => {
	it("answers 401 without a token and 403 without projects:write", async () => {
		await expectProblem(await call("/v1/projects"), 401, "unauthorized");
		await expectProblem(await call(`/v1/projects/${kenyan.id}`), 401, "unauthorized");
		const body = projectBody(marker, { name: `Test ${marker} Refused` });
		await expectProblem(await call("/v1/projects", { method: "POST", json: body }), 401, "unauthorized");
		await expectProblem(
			await call("/v1/projects", { method: "POST", headers: viewer, json: body }),
			403,
			"forbidden",
		);
		await expectProblem(
			await call(`/v1/projects/${kenyan.id}`, {
				method: "PATCH",
				headers: viewer,
				json: { name: "Renamed by a viewer" },
			}),
			403,
			"forbidden",
		);
		expect(await countByName(body.name)).toBe(0);
	});

	it("refuses a governor outside its nation: creating there (403), seeing (404), moving a project out (403)", async () => {
		const elsewhere = projectBody(marker, { name: `Test ${marker} In Tanzania`, nation_iso2: "TZ" });
		const refused = await call("/v1/projects", { method: "POST", headers: governorKE, json: elsewhere });
		expect((await expectProblem(refused, 403, "forbidden")).detail).toContain("TZ");
		expect(await countByName(elsewhere.name)).toBe(0);

		const tanzanian = (await createProject(admin, elsewhere, created, recordEvents().env)).project;
		await expectProblem(
			await call(`/v1/projects/${tanzanian.id}`, { headers: governorKE }),
			404,
			"not_found",
		);
		await expectProblem(
			await call(`/v1/projects/${tanzanian.id}`, {
				method: "PATCH",
				headers: governorKE,
				json: { name: "Mine now" },
			}),
			404,
			"not_found",
		);

		const before = await snapshot(kenyan.id);
		const moved = await call(`/v1/projects/${kenyan.id}`, {
			method: "PATCH",
			headers: governorKE,
			json: { nation_iso2: "TZ" },
		});
		expect((await expectProblem(moved, 403, "forbidden")).detail).toContain("TZ");
		expect(await snapshot(kenyan.id)).toEqual(before);
	});

	it("never lists another scope's projects to a scoped principal", async () => {
		const page = await json<ProjectPageResponse>(
			await call("/v1/projects?nation=TZ&limit=200", { headers: governorKE }),
		);
		expect(page).toEqual({ data: [], next_cursor: null });
	});
});

describe("POST /v1/projects: bad input creates nothing", () => {
	it("refuses read-only and unknown fields by name", async () => {
		for (const field of [
			"id",
			"created_at",
			"updated_at",
			"version",
			"serving_region",
			"region",
			"search",
			"deleted_at",
		]) {
			const body = {
				...projectBody(marker, { name: `Test ${marker} RO ${field}` }),
				[field]: field === "version" ? 3 : "x",
			};
			const problem = await expectProblem(
				await call("/v1/projects", { method: "POST", headers: admin, json: body }),
				400,
				"invalid_request",
			);
			expect(JSON.stringify(problem.errors)).toContain(`${field} (read-only)`);
			expect(await countByName(body.name)).toBe(0);
		}
		const unknown = { ...projectBody(marker, { name: `Test ${marker} Unknown` }), owner: "me" };
		const problem = await expectProblem(
			await call("/v1/projects", { method: "POST", headers: admin, json: unknown }),
			400,
			"invalid_request",
		);
		expect(JSON.stringify(problem.errors)).toContain("owner (unknown field)");
	});

	it("refuses invalid values with the zod issues", async () => {
		const cases: [Record<string, unknown>, string][] = [
			[{ budget_cents: 12.5 }, "budget_cents"],
			[{ budget_cents: 2 ** 53 }, "budget_cents"],
			[{ budget_cents: 0 }, "budget_cents"],
			[{ budget_cents: "5000" }, "budget_cents"],
			[{ funded_cents: -1 }, "funded_cents"],
			[{ funded_cents: 6_000_000_000 }, "funded_cents"],
			[{ sector: "fishing" }, "sector"],
			[{ nation_iso2: "KEN" }, "nation_iso2"],
			[{ status: "completed" }, "status"],
			[{ expected_yield_bps: 10_001 }, "expected_yield_bps"],
			[{ lat: 91 }, "lat"],
			[{ name: "" }, "name"],
			[{ summary: "x".repeat(2_001) }, "summary"],
		];
		for (const [override, field] of cases) {
			const body = { ...projectBody(marker, { name: `Test ${marker} Invalid ${field}` }), ...override };
			const problem = await expectProblem(
				await call("/v1/projects", { method: "POST", headers: admin, json: body }),
				400,
				"invalid_request",
			);
			expect(
				problem.errors?.map((e) => e.path.join(".")),
				JSON.stringify(override),
			).toContain(field);
		}
		const { name: _name, ...missingName } = projectBody(marker);
		const missing = await call("/v1/projects", { method: "POST", headers: admin, json: missingName });
		expect(
			(await expectProblem(missing, 400, "invalid_request")).errors?.map((e) => e.path.join(".")),
		).toContain("name");
	});

	it("answers 422 for a nation that does not exist", async () => {
		const body = projectBody(marker, { name: `Test ${marker} Nowhere`, nation_iso2: "QQ" });
		const problem = await expectProblem(
			await call("/v1/projects", { method: "POST", headers: admin, json: body }),
			422,
			"unprocessable",
		);
		expect(problem.errors?.[0]?.path).toEqual(["nation_iso2"]);
		expect(await countByName(body.name)).toBe(0);
	});

	it("refuses an Idempotency-Key reused with a different body", async () => {
		const headers = { ...admin, "idempotency-key": `reuse-${crypto.randomUUID()}` };
		const first = projectBody(marker, { name: `Test ${marker} Keyed` });
		await createProject(headers, first, created, recordEvents().env);
		const second = { ...first, budget_cents: first.budget_cents + 1 };
		await expectProblem(
			await call("/v1/projects", { method: "POST", headers, json: second }),
			422,
			"idempotency_key_reused",
		);
		expect(await countByName(first.name)).toBe(1);
	});

	it("answers 503 and creates nothing while Postgres is stopped", async () => {
		const recorder = recordEvents();
		const body = projectBody(marker, { name: `Test ${marker} While Down` });
		const response = await call(
			"/v1/projects",
			{ method: "POST", headers: admin, json: body },
			{ ...STOPPED_DATABASE, ...recorder.env },
		);
		await expectProblem(response, 503, "unavailable");
		expect(await countByName(body.name)).toBe(0);
		expect(recorder.events.filter((e) => String(e.type).startsWith("covenant."))).toEqual([]);
	});
});

describe("PATCH /v1/projects/{id}: refused changes leave Postgres and KV as they were", () => {
	it("answers 400 for a malformed id, 404 for an unknown one", async () => {
		await expectProblem(
			await call("/v1/projects/not-a-uuid", { method: "PATCH", headers: admin, json: { name: "x y z" } }),
			400,
			"invalid_request",
		);
		await expectProblem(
			await call(`/v1/projects/${crypto.randomUUID()}`, {
				method: "PATCH",
				headers: admin,
				json: { name: "x y z" },
			}),
			404,
			"not_found",
		);
		await expectProblem(
			await call(`/v1/projects/${crypto.randomUUID()}`, { headers: admin }),
			404,
			"not_found",
		);
	});

	it("refuses read-only fields, an empty body, a funded amount above the budget and an impossible transition", async () => {
		await call(`/v1/projects/${kenyan.id}`, { headers: viewer });
		const before = await snapshot(kenyan.id);
		for (const body of [
			{ id: crypto.randomUUID() },
			{ version: 1 },
			{ serving_region: "ams" },
			{ region: "Europe" },
		]) {
			await expectProblem(
				await call(`/v1/projects/${kenyan.id}`, { method: "PATCH", headers: admin, json: body }),
				400,
				"invalid_request",
			);
		}
		await expectProblem(
			await call(`/v1/projects/${kenyan.id}`, { method: "PATCH", headers: admin, json: {} }),
			400,
			"invalid_request",
		);

		const overfunded = await call(`/v1/projects/${kenyan.id}`, {
			method: "PATCH",
			headers: admin,
			json: { funded_cents: kenyan.budget_cents + 1 },
		});
		expect((await expectProblem(overfunded, 422, "unprocessable")).errors?.[0]?.path).toEqual([
			"funded_cents",
		]);
		const shrunk = await call(`/v1/projects/${kenyan.id}`, {
			method: "PATCH",
			headers: admin,
			json: { budget_cents: 1 },
		});
		expect((await expectProblem(shrunk, 422, "unprocessable")).errors?.[0]?.path).toEqual(["budget_cents"]);

		const skipped = await call(`/v1/projects/${kenyan.id}`, {
			method: "PATCH",
			headers: admin,
			json: { status: "completed" },
		});
		const problem = await expectProblem(skipped, 422, "unprocessable");
		expect(problem.detail).toContain("proposed");
		expect(problem.errors?.[0]?.path).toEqual(["status"]);

		const unknownNation = await call(`/v1/projects/${kenyan.id}`, {
			method: "PATCH",
			headers: admin,
			json: { nation_iso2: "QQ" },
		});
		await expectProblem(unknownNation, 422, "unprocessable");
		expect(await snapshot(kenyan.id)).toEqual(before);
	});

	it("answers 412 when If-Match names an older ETag, and 503 while Postgres is stopped", async () => {
		const current = (await call(`/v1/projects/${kenyan.id}`, { headers: viewer })).headers.get("etag");
		const before = await snapshot(kenyan.id);
		const stale = await call(`/v1/projects/${kenyan.id}`, {
			method: "PATCH",
			headers: { ...admin, "if-match": '"1-not-the-current-one"' },
			json: { name: `Test ${marker} Lost Update` },
		});
		await expectProblem(stale, 412, "precondition_failed");
		expect(stale.headers.get("etag")).toBe(current);

		const down = await call(
			`/v1/projects/${kenyan.id}`,
			{ method: "PATCH", headers: admin, json: { name: `Test ${marker} While Down` } },
			{ ...STOPPED_DATABASE, ...recordEvents().env },
		);
		await expectProblem(down, 503, "unavailable");
		expect(await snapshot(kenyan.id)).toEqual(before);
	});
});

describe("list parameters and HTTP rules", () => {
	it("refuses bad filters, unknown parameters and foreign cursors", async () => {
		for (const query of [
			"sector=fishing",
			"status=done",
			"nation=K",
			"limit=500",
			"region=Mars",
			"serving_region=xyz",
			"page=2",
		]) {
			await expectProblem(await call(`/v1/projects?${query}`, { headers: viewer }), 400, "invalid_request");
		}
		const first = await json<ProjectPageResponse>(
			await call("/v1/projects?sector=tech&limit=1", { headers: viewer }),
		);
		await expectProblem(
			await call(`/v1/projects?sector=health&limit=1&cursor=${first.next_cursor}`, { headers: viewer }),
			400,
			"invalid_request",
		);
	});

	it("answers 405 with Allow, 415 for a form body, 406 for XML-only clients", async () => {
		const deleted = await call(`/v1/projects/${kenyan.id}`, { method: "DELETE", headers: admin });
		await expectProblem(deleted, 405, "method_not_allowed");
		expect(deleted.headers.get("allow")).toBe("GET, PATCH");
		const put = await call("/v1/projects", { method: "PUT", headers: admin, json: projectBody(marker) });
		expect(put.headers.get("allow")).toBe("GET, POST");

		const form = await call("/v1/projects", {
			method: "POST",
			headers: { ...admin, "content-type": "application/x-www-form-urlencoded" },
			body: new URLSearchParams({ name: `Test ${marker} Form`, sector: "energy" }).toString(),
		});
		await expectProblem(form, 415, "unsupported_media_type");
		expect(await countByName(`Test ${marker} Form`)).toBe(0);
		await expectProblem(
			await call("/v1/projects", { headers: { ...viewer, accept: "application/xml" } }),
			406,
			"not_acceptable",
		);
	});
});
