import { env } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withDb } from "../../workers/db/client.ts";
import { contributionSchedules } from "../../workers/db/schema/contributions.ts";
import { nations } from "../../workers/db/schema/nations.ts";
import { type CovenantStatus, contributionFor } from "../../workers/domain/contribution.ts";
import { nationByCode } from "../../workers/domain/ledger/nations.ts";
import type { CreateScheduleResponse } from "../../workers/routes/contributions/create-schedule.ts";
import type { ListContributionsResponse } from "../../workers/routes/contributions/list-contributions.ts";
import { bearer, uniqueSub } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import {
	deleteProjection,
	drain,
	fundTreasury,
	holdProjection,
	ledger,
	transfer,
	uniquePeriod,
} from "./support.ts";

// This is the one test file that writes to the ledgers of the active nations (scheduling assesses them all).
const PERIOD = uniquePeriod();
const LATE_PERIOD = uniquePeriod();
const PROJECTED = ["US", "JP", "CN"];
let admin: Record<string, string>;
let active: { iso2: string; amount: number; servingRegion: string }[];

beforeAll(async () => {
	admin = await bearer("admin", uniqueSub("contributions-admin"));
	const rows = await withDb(env, (db) =>
		db.select().from(nations).where(eq(nations.covenantStatus, "active")),
	);
	active = rows
		.filter((n) => nationByCode(n.iso2)?.iso2 === n.iso2)
		.map((n) => ({
			iso2: n.iso2,
			servingRegion: n.servingRegion,
			amount: contributionFor({
				gdp_cents: n.gdpCents,
				gdp_year: n.gdpYear,
				covenant_status: n.covenantStatus as CovenantStatus,
			}).annual_contribution_cents,
		}));
	expect(active.length).toBeGreaterThanOrEqual(56);
	// Only the nations whose payments the list is checked against project to Postgres (see holdProjection).
	await holdProjection(
		active.map((n) => n.iso2).filter((iso2) => !PROJECTED.includes(iso2)),
		true,
	);
});

afterAll(async () => {
	await withDb(env, (db) =>
		db.delete(contributionSchedules).where(inArray(contributionSchedules.period, [PERIOD, LATE_PERIOD])),
	);
	await deleteProjection(active.map((n) => n.iso2));
});

const schedule = (body: unknown, headers = admin) =>
	call("/v1/contributions/schedule", { method: "POST", headers, json: body });
const list = async (query: string, headers = admin) => {
	const response = await call(`/v1/contributions?${query}`, { headers });
	expect(response.status, await response.clone().text()).toBe(200);
	return json<ListContributionsResponse>(response);
};

/** A nation pays `amount` of its assessed contribution from its treasury (funded first). */
async function pay(iso2: string, amount: number, period: string) {
	await transfer(iso2, admin, fundTreasury(amount));
	await transfer(iso2, admin, {
		kind: "contribution",
		debit_account: "contributions_payable",
		credit_account: "treasury",
		amount,
		reference: { period },
	});
}

describe("POST /v1/contributions/schedule", () => {
	it("assesses every active nation's contribution from the contribution rule, on its ledger", async () => {
		const response = await schedule({ period: PERIOD });
		expect(response.status, await response.clone().text()).toBe(201);
		const body = await json<CreateScheduleResponse>(response);
		const byNation = new Map(body.schedules.map((s) => [s.nation, s]));
		for (const nation of active) {
			expect(byNation.get(nation.iso2), nation.iso2).toMatchObject({
				amount_cents: nation.amount,
				due_date: `${PERIOD}-03-31`,
				transfer_id: `contribution.${PERIOD}.${nation.iso2}`,
				ledger_sequence: expect.any(Number),
				outcome: "created",
			});
		}
		expect(body.created).toBe(body.schedules.length);
		expect(body.total_cents).toBe(body.schedules.reduce((sum, s) => sum + s.amount_cents, 0));
		// Another suite may have made a temporary, non-reference nation active: it has no ledger, so it is skipped.
		for (const skipped of body.skipped) expect(nationByCode(skipped.nation)?.iso2).not.toBe(skipped.nation);

		const us = await ledger("US").getTransfer(`contribution.${PERIOD}.US`);
		expect(us).toMatchObject({
			kind: "contribution",
			debit_account: "fund_contributions",
			credit_account: "contributions_payable",
			amount: 250_000_000_000, // the ceiling
			reference: { period: PERIOD },
			sequence: byNation.get("US")?.ledger_sequence,
		});
	});

	it("is idempotent per period and nation: a repeat creates nothing and posts nothing", async () => {
		const first = await json<CreateScheduleResponse>(await schedule({ period: PERIOD }));
		const again = await schedule({ period: PERIOD, due_date: "2001-01-01" });
		expect(again.status).toBe(200);
		const body = await json<CreateScheduleResponse>(again);
		expect(body.created).toBe(0);
		expect(body.existing).toBe(first.schedules.length);
		expect(body.schedules.map((s) => ({ ...s, outcome: "created" }))).toEqual(
			first.schedules.map((s) => ({ ...s, outcome: "created" })),
		);
		const page = await ledger("DE").entries({ kind: "contribution" });
		expect(page.entries.filter((e) => e.reference.period === PERIOD)).toHaveLength(1);
	});

	it("survives concurrent requests for the same period, assessing each nation once", async () => {
		const [a, b] = await Promise.all([
			schedule({ period: LATE_PERIOD, due_date: "2001-02-03" }),
			schedule({ period: LATE_PERIOD, due_date: "2001-02-03" }),
		]);
		expect([a.status, b.status].sort()).toEqual([200, 201].sort());
		const page = await ledger("FR").entries({ kind: "contribution" });
		expect(page.entries.filter((e) => e.reference.period === LATE_PERIOD)).toHaveLength(1);
		const rows = await withDb(env, (db) =>
			db.select().from(contributionSchedules).where(eq(contributionSchedules.period, LATE_PERIOD)),
		);
		expect(rows.length).toBe(active.length);
		expect(new Set(rows.map((r) => r.dueDate))).toEqual(new Set(["2001-02-03"]));
	});

	it("refuses a malformed period or due date, scheduling nothing", async () => {
		const untouched = uniquePeriod();
		for (const body of [
			{ period: "26" },
			{ period: "2026-Q1" },
			{ period: "abcd" },
			{ period: 2026 },
			{ period: "1999" },
			{},
			{ period: untouched, due_date: "2026-13-01" },
			{ period: untouched, due_date: "tomorrow" },
			{ period: untouched, extra: 1 },
		]) {
			const response = await schedule(body);
			expect(response.status, JSON.stringify(body)).toBe(400);
			expect((await json(response)).code).toBe("invalid_request");
		}
		const rows = await withDb(env, (db) =>
			db.select().from(contributionSchedules).where(eq(contributionSchedules.period, untouched)),
		);
		expect(rows).toEqual([]);
	});

	it("needs contributions:write across the whole covenant", async () => {
		expect(
			(await call("/v1/contributions/schedule", { method: "POST", json: { period: PERIOD } })).status,
		).toBe(401);
		for (const scope of ["viewer", "nation:US", "contributions:write nation:US", "region:iad"]) {
			const response = await schedule({ period: PERIOD }, await bearer(scope, uniqueSub("not-admin")));
			expect(response.status, scope).toBe(403);
		}
	});
});

describe("GET /v1/contributions", () => {
	beforeAll(async () => {
		const amount = (iso2: string) => active.find((n) => n.iso2 === iso2)?.amount ?? 0;
		await pay("US", amount("US"), PERIOD); // in full
		await pay("JP", 1_000, PERIOD); // in part
		await pay("CN", amount("CN"), LATE_PERIOD); // in full, for the overdue year
		await drain(PROJECTED);
	});

	it("lists what each nation owes and has paid: paid, due, and overdue after the due date", async () => {
		const current = await list(`period=${PERIOD}`);
		const row = (code: string, page = current) => page.data.find((r) => r.nation === code);
		expect(current.period).toBe(PERIOD);
		expect(current.data.map((r) => r.nation)).toEqual(active.map((n) => n.iso2).sort());
		const usAmount = active.find((n) => n.iso2 === "US")?.amount ?? 0;
		expect(row("US")).toMatchObject({
			status: "paid",
			amount_due_cents: usAmount,
			paid_cents: usAmount,
			outstanding_cents: 0,
			due_date: `${PERIOD}-03-31`,
			last_paid_at: expect.any(String),
			assessment: { transfer_id: `contribution.${PERIOD}.US`, ledger_sequence: expect.any(Number) },
		});
		expect(row("JP")).toMatchObject({ status: "due", paid_cents: 1_000 });
		expect(row("JP")?.outstanding_cents).toBe((row("JP")?.amount_due_cents ?? 0) - 1_000);
		expect(row("DE")).toMatchObject({ status: "due", paid_cents: 0, last_paid_at: null });
		expect(current.summary).toMatchObject({
			nations: active.length,
			paid: 1,
			overdue: 0,
			due: active.length - 1,
		});
		expect(current.summary.paid_cents).toBe(usAmount + 1_000);
		expect(current.projection.complete_through).not.toBeNull();

		const late = await list(`period=${LATE_PERIOD}`);
		expect(row("CN", late)).toMatchObject({ status: "paid" });
		expect(row("DE", late)).toMatchObject({ status: "overdue", due_date: "2001-02-03" });
		expect(late.summary).toMatchObject({ paid: 1, overdue: active.length - 1, due: 0 });
		const overdue = await list(`period=${LATE_PERIOD}&status=overdue`);
		expect(overdue.data.map((r) => r.nation)).not.toContain("CN");
		expect(overdue.data).toHaveLength(active.length - 1);
		expect((await list(`period=${LATE_PERIOD}&nation=chn`)).data.map((r) => r.nation)).toEqual(["CN"]);
	});

	it("says how far the projection is complete: not past assessments that have not reached it", async () => {
		const scheduled = await withDb(env, (db) =>
			db.select().from(contributionSchedules).where(eq(contributionSchedules.period, PERIOD)),
		);
		const earliest = Math.min(...scheduled.map((r) => r.scheduledAt.getTime()));
		const fund = await json<{ projection: { complete_through: string; lagging_nations: number } }>(
			await call(`/v1/fund?period=${PERIOD}`, { headers: admin }),
		);
		// The held-back ledgers have recorded their assessments, but Postgres has not seen them.
		expect(fund.projection.lagging_nations).toBeGreaterThanOrEqual(active.length - PROJECTED.length);
		expect(Date.parse(fund.projection.complete_through)).toBeLessThanOrEqual(earliest);
		const listed = await list(`period=${PERIOD}`);
		expect(listed.projection.complete_through).toBe(fund.projection.complete_through);
	});

	it("pages through every row exactly once", async () => {
		const seen: string[] = [];
		let cursor: string | null = null;
		do {
			const page: ListContributionsResponse = await list(
				`period=${PERIOD}&limit=20${cursor ? `&cursor=${cursor}` : ""}`,
			);
			expect(page.data.length).toBeLessThanOrEqual(20);
			seen.push(...page.data.map((r) => r.nation));
			cursor = page.next_cursor;
		} while (cursor);
		expect(seen).toEqual(active.map((n) => n.iso2).sort());
		const first = await list(`period=${PERIOD}&limit=5`);
		const mismatched = await call(
			`/v1/contributions?period=${LATE_PERIOD}&limit=5&cursor=${first.next_cursor}`,
			{
				headers: admin,
			},
		);
		expect(mismatched.status).toBe(400);
	});

	it("shows a governor its own nation and a regional officer its region's nations", async () => {
		const governor = await list(`period=${PERIOD}`, await bearer("nation:US", uniqueSub("governor-us")));
		expect(governor.data.map((r) => r.nation)).toEqual(["US"]);
		expect(governor.summary.nations).toBe(1);
		const regional = await list(`period=${PERIOD}`, await bearer("region:iad", uniqueSub("regional-iad")));
		expect(regional.data.map((r) => r.nation)).toEqual(
			active
				.filter((n) => n.servingRegion === "iad")
				.map((n) => n.iso2)
				.sort(),
		);
		const manager = await list(
			`period=${PERIOD}`,
			await bearer("sector:energy contributions:read", uniqueSub("m")),
		);
		expect(manager.data).toEqual([]);
		const partner = await call(`/v1/contributions?period=${PERIOD}`, {
			headers: await bearer("partner", uniqueSub("p")),
		});
		expect(partner.status).toBe(403);
		expect((await call(`/v1/contributions?period=${PERIOD}`)).status).toBe(401);
	});

	it("refuses malformed filters", async () => {
		for (const query of [
			"period=26",
			"period=2026-01",
			"status=late",
			"nation=XX",
			"limit=0",
			"cursor=nonsense",
			"other=1",
		]) {
			const response = await call(`/v1/contributions?${query}`, { headers: admin });
			expect(response.status, query).toBe(400);
		}
	});
});
