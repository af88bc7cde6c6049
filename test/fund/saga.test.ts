import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sagaOf } from "../../durable-objects/distribution-saga/client.ts";
import type { DistributionSaga, ShareLedger } from "../../durable-objects/distribution-saga/object.ts";
import {
	type DistributionPlan,
	type DistributionView,
	distributionIdFor,
	planShares,
	shareTransferId,
} from "../../workers/domain/fund/distribution.ts";
import { splitByWeight } from "../../workers/domain/fund/split.ts";
import type { LedgerEntry } from "../../workers/domain/ledger/entry.ts";
import { nationByCode } from "../../workers/domain/ledger/nations.ts";
import type { ServingRegion } from "../../workers/domain/serving-regions.ts";
import { deleteProjection, holdProjection, ledger, recordingQueues, sleep } from "./support.ts";

// This file's ledgers (no other test file writes to them). Twelve nations: more than one step of ten shares.
const CRASH_AFTER = ["LA", "KH", "MM", "NP", "BT", "MN", "KG", "TJ", "TM", "AF", "YE", "JO"];
const CRASH_BEFORE = ["LB", "AM", "GE", "AZ", "MD", "AL", "MK", "BA", "HT", "JM", "TT", "BS"];
const REFUSING = ["BB", "GY", "SR"];
const ZERO = ["BZ", "GT"];
const ALL = [...CRASH_AFTER, ...CRASH_BEFORE, ...REFUSING, ...ZERO];
// The saga's outcome is read from the ledgers themselves: their Postgres projection is not needed here.
beforeAll(() => holdProjection(ALL, true));
afterAll(() => deleteProjection(ALL));

/** A plan as POST /v1/distributions makes one, for made-up weights (the saga only executes plans). */
function planFor(
	nations: readonly string[],
	amount: number,
	weight = (i: number) => 1_000 + i * 37,
): DistributionPlan {
	const id = distributionIdFor({ kind: "test", id: crypto.randomUUID() }, undefined);
	const weights = nations.map((nation, i) => ({ nation, weight: weight(i) }));
	const regions = new Map(nations.map((n) => [n, nationByCode(n)?.serving_region as ServingRegion]));
	return {
		id,
		project: {
			id: crypto.randomUUID(),
			name: "Saga test project",
			sector: "energy",
			nation: "KE",
			serving_region: "jnb",
		},
		period: "2999",
		amount_cents: amount,
		total_weight_cents: weights.reduce((sum, w) => sum + w.weight, 0),
		weights_complete_through: null,
		created_at: new Date().toISOString(),
		created_by: "test",
		shares: planShares(id, splitByWeight(amount, weights), regions),
	};
}

/** Runs the saga's alarms until it is finished (the runtime may also run them on its own meanwhile). */
async function driveToEnd(plan: DistributionPlan, rounds = 200): Promise<DistributionView> {
	const stub = sagaOf(env, plan.id);
	for (let i = 0; i < rounds; i++) {
		const view = await stub.view();
		if (view && (view.status === "completed" || view.status === "stalled")) return view;
		if (!(await runDurableObjectAlarm(stub))) await sleep(20);
	}
	throw new Error(`distribution ${plan.id} did not finish`);
}

/** Runs alarms until `done` holds for the saga's view. */
async function driveUntil(
	plan: DistributionPlan,
	done: (view: DistributionView) => boolean,
): Promise<DistributionView> {
	const stub = sagaOf(env, plan.id);
	for (let i = 0; i < 200; i++) {
		const view = await stub.view();
		if (view && done(view)) return view;
		if (!(await runDurableObjectAlarm(stub))) await sleep(20);
	}
	throw new Error(`distribution ${plan.id} never reached the expected state`);
}

/** The entries a distribution left on a nation's ledger. */
async function postingsOf(nation: string, distributionId: string): Promise<LedgerEntry[]> {
	const page = await ledger(nation).entries({ kind: "distribution", limit: 1_000 });
	return page.entries.filter((e) => e.reference.distribution_id === distributionId);
}

async function expectPaidExactlyOnce(plan: DistributionPlan): Promise<void> {
	for (const share of plan.shares) {
		const postings = await postingsOf(share.nation, plan.id);
		if (share.share_cents === 0) {
			expect(postings, `${share.nation} has nothing to receive`).toHaveLength(0);
			continue;
		}
		expect(postings, `${share.nation} is paid exactly once`).toHaveLength(1);
		expect(postings[0]).toMatchObject({
			id: shareTransferId(plan.id, share.nation),
			amount: share.share_cents,
			debit_account: "treasury",
			credit_account: "distributions_received",
			reference: { project_id: plan.project.id, distribution_id: plan.id, period: plan.period },
		});
	}
}

/** Wraps the saga's ledger access: `around` sees each posting and decides when to "crash". */
async function instrument(
	plan: DistributionPlan,
	around: (
		nation: string,
		post: () => ReturnType<ShareLedger["transfer"]>,
	) => ReturnType<ShareLedger["transfer"]>,
) {
	const queues = recordingQueues();
	await runInDurableObject(sagaOf(env, plan.id), (saga: DistributionSaga) => {
		const real = saga.ledgerFor;
		saga.ledgerFor = (nation) => ({
			transfer: (input, options) => around(nation, () => real(nation).transfer(input, options)),
		});
		saga.outcomeEnv = { ...env, ...queues.bindings };
	});
	return queues;
}

/** The message an RPC call was refused with. */
async function refusal(run: () => Promise<unknown>): Promise<string> {
	try {
		await run();
	} catch (error) {
		return String(error);
	}
	throw new Error("the call was not refused");
}

/** After an eviction the object is new: keep its events away from the real consumers again. */
async function recordEventsAfterEviction(plan: DistributionPlan) {
	const queues = recordingQueues();
	await runInDurableObject(sagaOf(env, plan.id), (saga: DistributionSaga) => {
		saga.outcomeEnv = { ...env, ...queues.bindings };
	});
	return queues;
}

describe("the distribution saga", () => {
	it("crashing right after a ledger recorded a share, then evicted and resumed, pays every nation exactly once", async () => {
		const plan = planFor(CRASH_AFTER, 1_000_003);
		let postings = 0;
		await instrument(plan, async (nation, post) => {
			// The third share reaches its ledger, but the saga dies before it can write that down; a dead object
			// posts nothing more until it is restarted (evicted below).
			if (postings >= 3) throw new Error("simulated crash: the object is down");
			const result = await post();
			postings += 1;
			if (postings === 3) throw new Error(`simulated crash after posting ${nation}'s share`);
			return result;
		});
		const stub = sagaOf(env, plan.id);
		expect(await stub.start(plan)).toMatchObject({
			id: plan.id,
			status: "running",
			progress: { recipients: 12, posted: 0 },
		});

		const crashed = await driveUntil(plan, (view) => view.last_error !== null);
		expect(crashed.last_error).toContain("simulated crash");
		expect(crashed.progress).toMatchObject({ posted: 2, pending: 10 });
		// Shares are posted in nation order: the third is JO's.
		expect(crashed.shares[2]).toMatchObject({ nation: "JO", state: "pending", ledger_sequence: null });
		expect(await postingsOf("JO", plan.id)).toHaveLength(1); // the ledger has it; the saga does not know yet
		expect(crashed.next_attempt_at).not.toBeNull();

		await evictDurableObject(stub);
		const queues = await recordEventsAfterEviction(plan);
		const done = await driveToEnd(plan);
		expect(done).toMatchObject({
			status: "completed",
			last_error: null,
			progress: {
				recipients: 12,
				posted: 12,
				pending: 0,
				refused: 0,
				posted_cents: 1_000_003,
				pending_cents: 0,
			},
		});
		expect(done.completed_at).not.toBeNull();
		const third = done.shares.find((s) => s.nation === "JO");
		expect(third).toMatchObject({ state: "posted", ledger_sequence: 1 });
		expect(third?.attempts).toBeGreaterThanOrEqual(2);
		await expectPaidExactlyOnce(plan);
		expect(queues.events).toEqual([
			expect.objectContaining({
				id: plan.id,
				type: "covenant.payments.distributed",
				data: expect.objectContaining({
					distribution_id: plan.id,
					amount_cents: 1_000_003,
					recipients: 12,
					sector: "energy",
				}),
			}),
		]);
	});

	it("crashing between two postings, then evicted and resumed, pays every nation exactly once", async () => {
		const plan = planFor(CRASH_BEFORE, 7_919);
		let calls = 0;
		await instrument(plan, async (nation, post) => {
			calls += 1;
			// Ten shares go through (the first step); the object dies before the eleventh leaves it.
			if (calls >= 11) throw new Error(`simulated crash before posting ${nation}'s share`);
			return post();
		});
		const stub = sagaOf(env, plan.id);
		await stub.start(plan);
		const crashed = await driveUntil(plan, (view) => view.last_error !== null);
		expect(crashed.progress).toMatchObject({ posted: 10, pending: 2 });
		const eleventh = crashed.shares[10];
		expect(eleventh?.state).toBe("pending");
		expect(await postingsOf(eleventh?.nation ?? "", plan.id)).toHaveLength(0);

		await evictDurableObject(stub);
		await recordEventsAfterEviction(plan);
		const done = await driveToEnd(plan);
		expect(done).toMatchObject({ status: "completed", progress: { posted: 12, posted_cents: 7_919 } });
		await expectPaidExactlyOnce(plan);
		const total = done.shares.reduce((sum, s) => sum + s.share_cents, 0);
		expect(total).toBe(7_919);
	});

	it("posting every share again after the saga lost all its bookkeeping still pays nobody twice", async () => {
		// Reuses the nations of the first test: their ledgers hold that distribution's transfers already.
		const plan = planFor(CRASH_AFTER.slice(0, 5), 50_000);
		const stub = sagaOf(env, plan.id);
		await recordEventsAfterEviction(plan);
		await stub.start(plan);
		await driveToEnd(plan);
		await runInDurableObject(stub, (_saga: DistributionSaga, state) => {
			state.storage.sql.exec(
				"update shares set state = 'pending', ledger_sequence = null where share_cents > 0",
			);
			state.storage.sql.exec("update saga set status = 'running', completed_at_ms = null");
		});
		await stub.start(plan); // same plan: a no-op, but it must not reset anything either
		const done = await driveToEnd(plan);
		expect(done).toMatchObject({ status: "completed", progress: { posted: 5, posted_cents: 50_000 } });
		await expectPaidExactlyOnce(plan);
	});

	it("refuses to replace a plan, and treats starting the same plan again as a no-op", async () => {
		const plan = planFor(ZERO, 10);
		const stub = sagaOf(env, plan.id);
		await recordEventsAfterEviction(plan);
		const first = await stub.start(plan);
		const again = await stub.start(structuredClone(plan));
		expect(again.created_at).toBe(first.created_at);
		expect(await refusal(() => stub.start({ ...plan, amount_cents: 11 }))).toMatch(/another plan/);
		expect(await refusal(() => stub.start(planFor(ZERO, 10)))).toMatch(/cannot run the plan/);
		await driveToEnd(plan);
	});

	it("posts nothing for a zero share", async () => {
		// 1 cent over two nations: one gets it, the other has nothing to receive.
		const plan = planFor(ZERO, 1, () => 5);
		const stub = sagaOf(env, plan.id);
		await recordEventsAfterEviction(plan);
		await stub.start(plan);
		const done = await driveToEnd(plan);
		expect(done.shares.map((s) => [s.nation, s.share_cents, s.state])).toEqual([
			["BZ", 1, "posted"],
			["GT", 0, "nothing_to_pay"],
		]);
		expect(done.progress).toMatchObject({ recipients: 1, posted: 1 });
		await expectPaidExactlyOnce(plan);
	});

	it("stalls, without an event, when a ledger refuses a share for good, having posted the others", async () => {
		const plan = planFor(REFUSING, 9_000);
		const refusedShare = plan.shares[1];
		if (!refusedShare?.transfer_id) throw new Error("plan without a second share");
		// Someone already used the share's transfer id on GY's ledger, for something else.
		const squatter = await ledger("GY").transfer({
			id: refusedShare.transfer_id,
			kind: "adjustment",
			debit_account: "treasury",
			credit_account: "national_funding",
			amount: 1,
		});
		expect(squatter.ok).toBe(true);
		const queues = await instrument(plan, (_nation, post) => post());
		const stub = sagaOf(env, plan.id);
		await stub.start(plan);
		const done = await driveToEnd(plan);
		expect(done).toMatchObject({ status: "stalled", progress: { posted: 2, refused: 1, pending: 0 } });
		expect(done.shares[1]).toMatchObject({ nation: "GY", state: "refused" });
		expect(done.shares[1]?.last_error).toContain("id_already_exists_with_different_fields");
		expect(queues.events).toEqual([]);
		expect(await postingsOf("BB", plan.id)).toHaveLength(1);
		expect(await postingsOf("SR", plan.id)).toHaveLength(1);
		// Stalled is final: further alarms change nothing.
		expect(await runDurableObjectAlarm(stub)).toBe(false);
	});
});
