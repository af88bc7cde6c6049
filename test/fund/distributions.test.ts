import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { and, eq, inArray, isNull } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sagaOf } from "../../durable-objects/distribution-saga/client.ts";
import type { DistributionSaga } from "../../durable-objects/distribution-saga/object.ts";
import { withDb } from "../../workers/db/client.ts";
import { distributionShares, distributions } from "../../workers/db/schema/distributions.ts";
import { projects } from "../../workers/db/schema/projects.ts";
import { type DistributionView, distributionIdFor } from "../../workers/domain/fund/distribution.ts";
import { splitByWeight } from "../../workers/domain/fund/split.ts";
import { refusal } from "../../workers/domain/ledger/refusals.ts";
import type { GetFundResponse } from "../../workers/routes/fund/get-fund.ts";
import { bearer, uniqueSub } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import {
	deleteProjection,
	directContribution,
	fundTreasury,
	holdProjection,
	ledger,
	projectOneByOne,
	recordingQueues,
	sleep,
	transfer,
	uniqueKey,
	uniquePeriod,
} from "./support.ts";

// This file's ledgers (no other test file writes to them): nations of four serving regions.
const PAYERS: Record<string, number> = {
	HN: 1_000_000,
	SV: 2_500_000,
	NI: 777_777,
	CR: 1_000_000, // ties with HN on weight: equal remainders go to the lower code
	PA: 123_457,
	MU: 4_000_000,
	IS: 10_000_000,
	MT: 333_333,
	PG: 50_000,
	SB: 1,
};
/** Paid and then reversed: contributes nothing net, so receives nothing. */
const REVERSED = "LK";
const NATIONS = [...Object.keys(PAYERS), REVERSED];
const PERIOD = uniquePeriod();
const EMPTY_PERIOD = uniquePeriod();
const WEIGHTS = Object.entries(PAYERS).map(([nation, weight]) => ({ nation, weight }));

const adminSub = uniqueSub("distribution-admin");
let admin: Record<string, string>;
let project: { id: string; sector: string; nationIso2: string; servingRegion: string };
const created: string[] = [];

beforeAll(async () => {
	admin = await bearer("admin", adminSub);
	await holdProjection(NATIONS, true);
	await Promise.all(
		Object.entries(PAYERS).map(async ([nation, weight]) => {
			await transfer(nation, admin, fundTreasury(weight + 1_000));
			await transfer(nation, admin, directContribution(weight, PERIOD));
		}),
	);
	await transfer(REVERSED, admin, fundTreasury(5_000));
	const paid = await transfer(REVERSED, admin, directContribution(5_000, PERIOD));
	const reversal = await call(`/v1/nations/${REVERSED}/ledger/transfers/${paid.id}/reverse`, {
		method: "POST",
		headers: { ...admin, "idempotency-key": uniqueKey() },
		json: {},
	});
	expect(reversal.status).toBe(201);
	await projectOneByOne(NATIONS);
	const found = await withDb(env, (db) =>
		db.query.projects.findFirst({ where: isNull(projects.deletedAt), orderBy: projects.id }),
	);
	if (!found) throw new Error("no seeded project");
	project = found;
});

afterAll(async () => {
	await withDb(env, (db) => db.delete(distributions).where(inArray(distributions.id, created)));
	await deleteProjection(NATIONS);
});

/** Creates a distribution as `admin` with an Idempotency-Key, its saga's events recorded (not sent). */
async function distribute(amount: number, key = uniqueKey("dist")) {
	const id = distributionIdFor({ kind: "user", id: adminSub }, key);
	const queues = recordingQueues();
	await runInDurableObject(sagaOf(env, id), (saga: DistributionSaga) => {
		saga.outcomeEnv = { ...env, ...queues.bindings };
	});
	const response = await call("/v1/distributions", {
		method: "POST",
		headers: { ...admin, "idempotency-key": key },
		json: { project_id: project.id, amount, period: PERIOD },
	});
	if (response.status === 202) created.push(id);
	return { id, key, response, events: queues.events };
}

async function finish(id: string): Promise<DistributionView> {
	const stub = sagaOf(env, id);
	for (let i = 0; i < 200; i++) {
		const view = await stub.view();
		if (view?.status === "completed" || view?.status === "stalled") return view;
		if (!(await runDurableObjectAlarm(stub))) await sleep(20);
	}
	throw new Error(`distribution ${id} did not finish`);
}

describe("POST /v1/distributions", () => {
	it("splits by the contributions paid for the period, pays every nation its share once, and announces it", async () => {
		const { id, response, events } = await distribute(1_000_003);
		expect(response.status, await response.clone().text()).toBe(202);
		expect(response.headers.get("location")).toBe(`/v1/distributions/${id}`);
		const planned = await json<DistributionView>(response);
		const expected = splitByWeight(1_000_003, WEIGHTS);
		expect(planned).toMatchObject({
			id,
			status: "running",
			period: PERIOD,
			amount_cents: 1_000_003,
			total_weight_cents: WEIGHTS.reduce((sum, w) => sum + w.weight, 0),
			project: { id: project.id, sector: project.sector, nation: project.nationIso2 },
		});
		expect(planned.shares.map((s) => [s.nation, s.weight_cents, s.share_cents, s.extra_cent])).toEqual(
			expected.map((s) => [s.nation, s.weight, s.share, s.extra_cent]),
		);
		expect(planned.shares.map((s) => s.nation)).not.toContain(REVERSED);
		expect(planned.shares.reduce((sum, s) => sum + s.share_cents, 0)).toBe(1_000_003);
		// SB's 1 cent of weight earns less than a cent and no left-over one: it is planned, with nothing to pay.
		const recipients = expected.filter((s) => s.share > 0);
		expect(recipients).toHaveLength(9);

		const done = await finish(id);
		expect(done).toMatchObject({
			status: "completed",
			progress: { recipients: 9, posted: 9, pending: 0, posted_cents: 1_000_003 },
		});
		expect(done.shares.find((s) => s.nation === "SB")).toMatchObject({
			share_cents: 0,
			state: "nothing_to_pay",
		});
		const read = await call(`/v1/distributions/${id}`, { headers: admin });
		expect(read.status).toBe(200);
		expect(await json<DistributionView>(read)).toMatchObject({
			status: "completed",
			completed_at: done.completed_at,
		});

		for (const share of expected) {
			const page = await ledger(share.nation).entries({ kind: "distribution" });
			const postings = page.entries.filter((e) => e.reference.distribution_id === id);
			expect(
				postings.map((e) => e.amount),
				share.nation,
			).toEqual(share.share > 0 ? [share.share] : []);
		}
		const [row, shares] = await withDb(env, (db) =>
			Promise.all([
				db.query.distributions.findFirst({ where: eq(distributions.id, id) }),
				db.select().from(distributionShares).where(eq(distributionShares.distributionId, id)),
			]),
		);
		expect(row).toMatchObject({ status: "completed", amountCents: 1_000_003, recipients: 9 });
		expect(row?.completedAt).toBeInstanceOf(Date);
		expect(shares).toHaveLength(10);
		for (const share of shares) {
			if (share.shareCents === 0)
				expect(share).toMatchObject({ state: "nothing_to_pay", ledgerSequence: null });
			else expect(share).toMatchObject({ state: "posted", ledgerSequence: expect.any(Number) });
		}

		expect(events).toEqual([
			expect.objectContaining({
				id,
				type: "covenant.payments.distributed",
				subject: `distributions/${id}`,
				data: expect.objectContaining({
					distribution_id: id,
					amount_cents: 1_000_003,
					project_id: project.id,
					sector: project.sector,
					recipients: 9,
				}),
			}),
		]);
	});

	it("distributes 1 cent to exactly one nation, by the documented tie-break", async () => {
		const { id, response } = await distribute(1);
		expect(response.status).toBe(202);
		const done = await finish(id);
		const paid = done.shares.filter((s) => s.share_cents > 0);
		// The largest remainder of 1 × weight / total is the largest weight's.
		expect(paid.map((s) => [s.nation, s.share_cents, s.state])).toEqual([["IS", 1, "posted"]]);
		expect(done.shares.filter((s) => s.state === "nothing_to_pay")).toHaveLength(9);
		expect(done.progress).toMatchObject({ recipients: 1, posted_cents: 1 });
	});

	it("replays a repeated request with the same Idempotency-Key and refuses the key for another body", async () => {
		const first = await distribute(5_000);
		expect(first.response.status).toBe(202);
		const again = await call("/v1/distributions", {
			method: "POST",
			headers: { ...admin, "idempotency-key": first.key },
			json: { project_id: project.id, amount: 5_000, period: PERIOD },
		});
		expect(again.status).toBe(202);
		expect(again.headers.get("idempotent-replayed")).toBe("true");
		expect((await json<DistributionView>(again)).id).toBe(first.id);
		const other = await call("/v1/distributions", {
			method: "POST",
			headers: { ...admin, "idempotency-key": first.key },
			json: { project_id: project.id, amount: 5_001, period: PERIOD },
		});
		expect(other.status).toBe(422);
		expect((await json(other)).code).toBe("idempotency_key_reused");
		const done = await finish(first.id);
		expect(done.progress.posted_cents).toBe(5_000);
		const rows = await withDb(env, (db) =>
			db
				.select()
				.from(distributions)
				.where(and(eq(distributions.projectId, project.id), eq(distributions.period, PERIOD))),
		);
		expect(rows.map((r) => r.amountCents).sort((a, b) => a - b)).toEqual([1, 5_000, 1_000_003]);
	});

	it("refuses bad input with a problem, applying nothing", async () => {
		const count = () =>
			withDb(
				env,
				async (db) =>
					(await db.select().from(distributions).where(eq(distributions.projectId, project.id))).length,
			);
		const before = await count();
		const post = (body: unknown) =>
			call("/v1/distributions", {
				method: "POST",
				headers: { ...admin, "idempotency-key": uniqueKey() },
				json: body,
			});
		const valid = { project_id: project.id, amount: 100, period: PERIOD };

		const unknown = await post({ ...valid, project_id: crypto.randomUUID() });
		expect(unknown.status).toBe(422);
		expect(await json(unknown)).toMatchObject({ code: "unprocessable", reason: "unknown_project" });

		for (const [field, value] of [
			["amount", 0],
			["amount", -5],
			["amount", 1.5],
			["amount", "100"],
			["amount", 2 ** 53],
			["amount", null],
			["period", "2026-Q1"],
			["period", "26"],
			["period", "abcd"],
			["period", 2026],
			["period", "1999"],
			["project_id", "not-a-uuid"],
		] as const) {
			const response = await post({ ...valid, [field]: value });
			expect(response.status, `${field}: ${JSON.stringify(value)}`).toBe(400);
			const problem = await json<{ code: string; errors: { path: (string | number)[] }[] }>(response);
			expect(problem.code).toBe("invalid_request");
			expect(problem.errors[0]?.path).toEqual([field]);
		}
		expect((await post({ ...valid, extra: true })).status).toBe(400);
		expect((await post({ amount: 100, period: PERIOD })).status).toBe(400);
		const badKey = await call("/v1/distributions", {
			method: "POST",
			headers: { ...admin, "idempotency-key": "has spaces" },
			json: valid,
		});
		expect(badKey.status).toBe(400);
		const noKey = await call("/v1/distributions", { method: "POST", headers: admin, json: valid });
		expect(noKey.status).toBe(400);
		expect((await json<{ errors: { path: string[] }[] }>(noKey)).errors[0]?.path).toEqual([
			"idempotency-key",
		]);

		const nobody = await post({ ...valid, period: EMPTY_PERIOD });
		expect(nobody.status).toBe(422);
		expect(await json(nobody)).toMatchObject({ reason: "no_contributions", period: EMPTY_PERIOD });
		expect(await count()).toBe(before);
	});

	it("needs distributions:write across the whole covenant", async () => {
		const body = { project_id: project.id, amount: 100, period: PERIOD };
		expect((await call("/v1/distributions", { method: "POST", json: body })).status).toBe(401);
		for (const scope of ["viewer", "nation:HN", "distributions:write nation:HN"]) {
			const headers = { ...(await bearer(scope, uniqueSub("no-write"))), "idempotency-key": uniqueKey() };
			const response = await call("/v1/distributions", { method: "POST", headers, json: body });
			expect(response.status, scope).toBe(403);
		}
	});
});

describe("GET /v1/distributions/{id}", () => {
	it("shows a distribution to the nations it pays and to fund-wide readers, and to nobody else", async () => {
		const [id] = created;
		if (!id) throw new Error("no distribution was created");
		const recipient = await bearer("nation:SV", uniqueSub("governor-sv"));
		expect((await call(`/v1/distributions/${id}`, { headers: recipient })).status).toBe(200);
		const viewer = await bearer("viewer", uniqueSub("viewer"));
		expect((await call(`/v1/distributions/${id}`, { headers: viewer })).status).toBe(200);
		const outsider = await bearer("nation:TZ", uniqueSub("governor-tz"));
		expect((await call(`/v1/distributions/${id}`, { headers: outsider })).status).toBe(404);
		expect((await call(`/v1/distributions/${id}`)).status).toBe(401);
	});

	it("answers 404 for an unknown or malformed id", async () => {
		for (const id of [distributionIdFor({ kind: "user", id: "nobody" }, "never-used"), "dist_xyz", "42"]) {
			const response = await call(`/v1/distributions/${id}`, { headers: admin });
			expect(response.status, id).toBe(404);
			expect((await json(response)).code).toBe("not_found");
		}
	});
});

describe("GET /v1/distributions", () => {
	type Page = {
		data: { id: string; period: string; project: { id: string }; status: string }[];
		next_cursor: string | null;
	};
	const base = () => `/v1/distributions?project_id=${project.id}&period=${PERIOD}`;

	async function walk(path: string, headers: Record<string, string>): Promise<string[]> {
		const ids: string[] = [];
		let cursor: string | null = null;
		do {
			const response = await call(`${path}${cursor ? `&cursor=${cursor}` : ""}`, { headers });
			expect(response.status).toBe(200);
			const page = await json<Page>(response);
			ids.push(...page.data.map((d) => d.id));
			cursor = page.next_cursor;
		} while (cursor);
		return ids;
	}

	/** Of `ids` (in their order), those with a share for `nation`, from Postgres. */
	async function payingNation(nation: string, ids: string[]): Promise<string[]> {
		const shares = await withDb(env, (db) =>
			db
				.select({ id: distributionShares.distributionId })
				.from(distributionShares)
				.where(
					and(inArray(distributionShares.distributionId, ids), eq(distributionShares.nationIso2, nation)),
				),
		);
		const paying = new Set(shares.map((s) => s.id));
		return ids.filter((id) => paying.has(id));
	}

	it("lists the distributions newest first and walks every page exactly once", async () => {
		expect(created.length).toBeGreaterThan(1);
		const all = await walk(`${base()}&limit=200`, admin);
		expect([...all].sort()).toEqual([...new Set(created)].sort());
		const byOne = await walk(`${base()}&limit=1`, admin);
		expect(byOne).toEqual(all);
		const rows = await withDb(env, (db) =>
			db.query.distributions.findMany({ where: inArray(distributions.id, all) }),
		);
		const createdAt = new Map(rows.map((r) => [r.id, r.createdAt.getTime()]));
		for (let i = 1; i < all.length; i++)
			expect(createdAt.get(all[i - 1] as string)).toBeGreaterThanOrEqual(
				createdAt.get(all[i] as string) as number,
			);
		const first = await json<Page>(await call(`${base()}&limit=1`, { headers: admin }));
		expect(first.data[0]).toMatchObject({ period: PERIOD, project: { id: project.id } });
		// A status filter keeps only matching rows; nation filters keep those paying the nation.
		const statuses = await json<Page>(await call(`${base()}&status=completed&limit=200`, { headers: admin }));
		expect(statuses.data.every((d) => d.status === "completed")).toBe(true);
		const payingSv = await payingNation("SV", all);
		expect(payingSv.length).toBeGreaterThan(0);
		expect(await walk(`${base()}&nation=SLV&limit=200`, admin)).toEqual(payingSv);
		expect(await walk(`${base()}&nation=TZ&limit=200`, admin)).toEqual([]);
	});

	it("shows only what the caller's scopes cover", async () => {
		const all = await walk(`${base()}&limit=200`, admin);
		const recipient = await bearer("nation:SV", uniqueSub("governor-sv-list"));
		const visibleToSv = project.nationIso2 === "SV" ? all : await payingNation("SV", all);
		expect(await walk(`${base()}&limit=200`, recipient)).toEqual(visibleToSv);
		const sector = await bearer(`sector:${project.sector}`, uniqueSub("sector-list"));
		expect(await walk(`${base()}&limit=200`, sector)).toEqual(all);
		const outsider = await bearer("nation:TZ", uniqueSub("governor-tz-list"));
		expect(await walk(`${base()}&limit=200`, outsider)).toEqual([]);
	});

	it("refuses bad input and anonymous callers with a problem", async () => {
		const cursor = (await json<Page>(await call(`${base()}&limit=1`, { headers: admin }))).next_cursor;
		expect(cursor).not.toBeNull();
		for (const path of [
			`${base()}&limit=0`,
			`${base()}&limit=201`,
			`${base()}&status=lost`,
			`${base()}&nation=ZZ`,
			`${base()}&period=26`,
			`${base()}&extra=1`,
			"/v1/distributions?project_id=not-a-uuid",
			`/v1/distributions?period=${PERIOD}&cursor=${cursor}`,
			`${base()}&cursor=bm90LWEtY3Vyc29y`,
		]) {
			const response = await call(path, { headers: admin });
			expect(response.status, path).toBe(400);
			expect(response.headers.get("content-type"), path).toMatch(/^application\/problem\+json/);
		}
		expect((await call(base())).status).toBe(401);
	});
});

describe("GET /v1/fund", () => {
	it("totals the period's flows from the projection, overall, per serving region and per sector", async () => {
		// A disbursement to the project from HN's treasury, for the same period.
		await transfer("HN", admin, {
			kind: "disbursement",
			debit_account: "disbursements",
			credit_account: "treasury",
			amount: 400,
			reference: { project_id: project.id, period: PERIOD },
		});
		await projectOneByOne(NATIONS);
		const response = await call(`/v1/fund?period=${PERIOD}`, { headers: admin });
		expect(response.status, await response.clone().text()).toBe(200);
		const fund = await json<GetFundResponse>(response);
		const contributed = WEIGHTS.reduce((sum, w) => sum + w.weight, 0);
		const distributed = 1_000_003 + 1 + 5_000;
		expect(fund).toMatchObject({
			period: PERIOD,
			currency: "USD",
			totals: {
				contributed_cents: contributed,
				assessed_cents: 0,
				distributed_cents: distributed,
				disbursed_cents: 400,
				balance_cents: contributed - 400,
			},
		});
		const region = (code: string) => fund.by_serving_region.find((r) => r.serving_region === code);
		const iad = ["HN", "SV", "NI", "CR", "PA"];
		expect(region("iad")?.contributed_cents).toBe(iad.reduce((sum, n) => sum + (PAYERS[n] ?? 0), 0));
		expect(region("ams")?.contributed_cents).toBe((PAYERS.IS ?? 0) + (PAYERS.MT ?? 0));
		expect(region("iad")?.disbursed_cents).toBe(400);
		expect(fund.by_serving_region.reduce((sum, r) => sum + r.distributed_cents, 0)).toBe(distributed);
		expect(fund.by_serving_region).toHaveLength(6);
		const sector = fund.by_sector.find((s) => s.sector === project.sector);
		expect(sector).toEqual({ sector: project.sector, distributed_cents: distributed, disbursed_cents: 400 });
		expect(
			fund.by_sector.filter((s) => s.sector !== project.sector).every((s) => s.distributed_cents === 0),
		).toBe(true);
		expect(fund.projection.complete_through).not.toBeNull();
		expect(fund.projection.nations).toBeGreaterThanOrEqual(NATIONS.length);

		// All time includes this period.
		const all = await json<GetFundResponse>(await call("/v1/fund", { headers: admin }));
		expect(all.period).toBeNull();
		expect(all.totals.contributed_cents).toBeGreaterThanOrEqual(contributed);
	});

	it("shows the breakdowns only within the caller's scopes", async () => {
		const regional = await json<GetFundResponse>(
			await call(`/v1/fund?period=${PERIOD}`, { headers: await bearer("region:iad", uniqueSub("regional")) }),
		);
		expect(regional.by_serving_region.map((r) => r.serving_region)).toEqual(["iad"]);
		expect(regional.by_sector).toEqual([]);
		expect(regional.totals.distributed_cents).toBe(1_005_004);
		const manager = await json<GetFundResponse>(
			await call(`/v1/fund?period=${PERIOD}`, {
				headers: await bearer(`sector:${project.sector}`, uniqueSub("manager")),
			}),
		);
		expect(manager.by_sector.map((s) => s.sector)).toEqual([project.sector]);
		expect(manager.by_serving_region).toEqual([]);
	});

	it("refuses a malformed period and anonymous callers", async () => {
		for (const period of ["2026-Q1", "20261", "x"]) {
			const response = await call(`/v1/fund?period=${period}`, { headers: admin });
			expect(response.status).toBe(400);
		}
		expect((await call("/v1/fund?unknown=1", { headers: admin })).status).toBe(400);
		expect((await call("/v1/fund")).status).toBe(401);
		expect(
			(await call("/v1/fund", { headers: await bearer("partner ledger:read", uniqueSub("p")) })).status,
		).toBe(200);
	});
});

describe("POST /v1/distributions/{id}/resume", () => {
	it("resumes a stalled distribution once the refusal is dealt with, paying nobody twice; changes nothing otherwise", async () => {
		const key = uniqueKey("dist-stall");
		const id = distributionIdFor({ kind: "user", id: adminSub }, key);
		const queues = recordingQueues();
		// SV's ledger refuses its share until `refusing` is lifted (as if its treasury had been short).
		let refusing = true;
		await runInDurableObject(sagaOf(env, id), (saga: DistributionSaga) => {
			saga.outcomeEnv = { ...env, ...queues.bindings };
			const real = saga.ledgerFor;
			saga.ledgerFor = (nation) => ({
				transfer: async (input, options) =>
					nation === "SV" && refusing
						? { ok: false, refusal: refusal("exceeds_credits", "treasury would exceed its credits") }
						: real(nation).transfer(input, options),
			});
		});
		const created202 = await call("/v1/distributions", {
			method: "POST",
			headers: { ...admin, "idempotency-key": key },
			json: { project_id: project.id, amount: 1_000, period: PERIOD },
		});
		expect(created202.status).toBe(202);
		created.push(id);
		const stalled = await finish(id);
		expect(stalled.status).toBe("stalled");
		expect(stalled.shares.find((s) => s.nation === "SV")).toMatchObject({ state: "refused" });
		expect(queues.events).toEqual([]);

		const governor = await bearer("nation:SV", uniqueSub("governor-resume"));
		expect((await call(`/v1/distributions/${id}/resume`, { method: "POST", headers: governor })).status).toBe(
			403,
		);
		expect((await call(`/v1/distributions/${id}/resume`, { method: "POST" })).status).toBe(401);

		refusing = false;
		const resumed = await call(`/v1/distributions/${id}/resume`, { method: "POST", headers: admin });
		expect(resumed.status).toBe(202);
		expect(await json(resumed)).toMatchObject({ id, status: "running" });
		const done = await finish(id);
		expect(done.status).toBe("completed");
		for (const share of done.shares) {
			const page = await ledger(share.nation).entries({ kind: "distribution" });
			const postings = page.entries.filter((e) => e.reference.distribution_id === id);
			expect(postings, share.nation).toHaveLength(share.share_cents > 0 ? 1 : 0);
		}
		expect(queues.events).toEqual([expect.objectContaining({ id, type: "covenant.payments.distributed" })]);
		const row = await withDb(env, (db) =>
			db.query.distributions.findFirst({ where: eq(distributions.id, id) }),
		);
		expect(row).toMatchObject({ status: "completed" });

		// Not stalled any more: a retried call changes nothing.
		const again = await call(`/v1/distributions/${id}/resume`, { method: "POST", headers: admin });
		expect(again.status).toBe(200);
		expect(await json(again)).toMatchObject({ id, status: "completed" });
		expect(queues.events).toHaveLength(1);
		const unknown = distributionIdFor({ kind: "user", id: "nobody" }, "never-used");
		for (const missing of [unknown, "dist_xyz"]) {
			const response = await call(`/v1/distributions/${missing}/resume`, { method: "POST", headers: admin });
			expect(response.status, missing).toBe(404);
		}
	});
});
