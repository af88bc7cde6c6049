import { describe, expect, it } from "vitest";
import type { GetLedgerResponse } from "../../workers/routes/ledger/get-ledger.ts";
import type { ProjectResponse } from "../../workers/routes/projects/schema.ts";
import { call, json } from "../support/http.ts";
import { personWith } from "./helpers.ts";

/**
 * Object-level access, beyond the route-level check: a principal holding a permission for one nation, sector
 * or region can never read or change another's objects. Refusals answer 404 (nothing to probe) and change
 * nothing.
 */

interface ProjectPage {
	data: ProjectResponse[];
}

async function firstProject(query: string): Promise<ProjectResponse> {
	const admin = await personWith("admin", "admin");
	const page = await json<ProjectPage>(
		await call(`/v1/projects?limit=1&${query}`, { headers: admin.headers }),
	);
	const project = page.data[0];
	if (!project) throw new Error(`the seeds hold no project for ${query}`);
	return project;
}

async function projectAsAdmin(id: string): Promise<ProjectResponse> {
	const admin = await personWith("admin", "admin");
	return json<ProjectResponse>(await call(`/v1/projects/${id}`, { headers: admin.headers }));
}

describe("ledgers", () => {
	const transfer = {
		kind: "adjustment",
		debit_account: "treasury",
		credit_account: "national_funding",
		amount: 100_00,
	};

	it("a governor reads its own nation's ledger and no other", async () => {
		const governor = await personWith("nation:KE", "governor");
		expect((await call("/v1/nations/KE/ledger", { headers: governor.headers })).status).toBe(200);
		for (const path of [
			"/v1/nations/TZ/ledger",
			"/v1/nations/TZA/ledger/entries",
			"/v1/nations/tz/ledger/transfers/any-id",
		]) {
			const response = await call(path, { headers: governor.headers });
			expect(response.status, path).toBe(404);
		}
	});

	it("a governor cannot write another nation's ledger, and the refusal changes nothing", async () => {
		const admin = await personWith("admin", "admin");
		const before = await json<GetLedgerResponse>(
			await call("/v1/nations/TZ/ledger", { headers: admin.headers }),
		);
		const governor = await personWith("nation:KE", "governor");
		for (const path of [
			"/v1/nations/TZ/ledger/transfers",
			"/v1/nations/TZ/ledger/transfers/any-id/reverse",
		]) {
			const response = await call(path, {
				method: "POST",
				headers: { ...governor.headers, "idempotency-key": crypto.randomUUID() },
				json: path.endsWith("transfers") ? transfer : {},
			});
			expect([403, 404], path).toContain(response.status);
		}
		const after = await json<GetLedgerResponse>(
			await call("/v1/nations/TZ/ledger", { headers: admin.headers }),
		);
		expect(after.head).toEqual(before.head);
	});

	it("a partner limited to a nation cannot write its ledger; a regional officer reads only its region's", async () => {
		const partner = await personWith("partner nation:KE", "partner");
		const write = await call("/v1/nations/KE/ledger/transfers", {
			method: "POST",
			headers: { ...partner.headers, "idempotency-key": crypto.randomUUID() },
			json: transfer,
		});
		expect(write.status).toBe(403);
		const regional = await personWith("region:syd", "regional");
		expect((await call("/v1/nations/FJ/ledger", { headers: regional.headers })).status).toBe(200);
		expect((await call("/v1/nations/KE/ledger", { headers: regional.headers })).status).toBe(404);
	});
});

describe("projects", () => {
	it("a governor sees its nation's projects only, in lists and by id", async () => {
		const inKenya = await firstProject("nation=KE");
		const inTanzania = await firstProject("nation=TZ");
		const governor = await personWith("nation:KE", "governor");
		expect((await call(`/v1/projects/${inKenya.id}`, { headers: governor.headers })).status).toBe(200);
		expect((await call(`/v1/projects/${inTanzania.id}`, { headers: governor.headers })).status).toBe(404);

		const listed = await json<ProjectPage>(
			await call("/v1/projects?limit=100", { headers: governor.headers }),
		);
		expect(listed.data.length).toBeGreaterThan(0);
		expect(new Set(listed.data.map((p) => p.nation_iso2))).toEqual(new Set(["KE"]));
		const filtered = await json<ProjectPage>(
			await call("/v1/projects?nation=TZ", { headers: governor.headers }),
		);
		expect(filtered.data).toEqual([]);
	});

	it("refuses changes to another nation's project (404) or to a project one may only read (403), changing nothing", async () => {
		const inTanzania = await firstProject("nation=TZ");
		const inKenya = await firstProject("nation=KE");
		const governor = await personWith("nation:KE", "governor");
		const foreign = await call(`/v1/projects/${inTanzania.id}`, {
			method: "PATCH",
			headers: governor.headers,
			json: { summary: "rewritten by another nation's governor" },
		});
		expect(foreign.status).toBe(404);
		const readOnly = await personWith("partner nation:KE", "partner");
		const denied = await call(`/v1/projects/${inKenya.id}`, {
			method: "PATCH",
			headers: readOnly.headers,
			json: { summary: "rewritten by a partner" },
		});
		expect(denied.status).toBe(403);
		expect((await projectAsAdmin(inTanzania.id)).version).toBe(inTanzania.version);
		expect((await projectAsAdmin(inKenya.id)).version).toBe(inKenya.version);
	});

	it("a sector manager sees its sector's projects only", async () => {
		const energy = await firstProject("sector=energy");
		const health = await firstProject("sector=health");
		const manager = await personWith("sector:energy", "manager");
		expect((await call(`/v1/projects/${energy.id}`, { headers: manager.headers })).status).toBe(200);
		expect((await call(`/v1/projects/${health.id}`, { headers: manager.headers })).status).toBe(404);
	});
});
