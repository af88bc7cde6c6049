import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import type { LedgerWriteResult } from "../../durable-objects/nation-ledger/client.ts";
import { verifyChain } from "../../workers/domain/ledger/entry.ts";
import type { TransferView } from "../../workers/domain/ledger/views.ts";
import type { NationLedger } from "../../durable-objects/nation-ledger/object.ts";
import { migrateLedgerSchema } from "../../durable-objects/nation-ledger/schema.ts";
import { deleteProjection, key, ledger, STOPPED_PROJECTION, setProjectionDatabase } from "./support.ts";

// Each test owns a nation (its ledger object and its projection rows).
const USED: string[] = [];
function nation(iso2: string) {
	USED.push(iso2);
	return ledger(iso2);
}
afterAll(() => deleteProjection(USED));

const fund = (amount: number, id?: string) => ({
	kind: "adjustment",
	debit_account: "treasury",
	credit_account: "national_funding",
	amount,
	...(id ? { id } : {}),
});
const disburse = (amount: number, extra: Record<string, unknown> = {}) => ({
	kind: "disbursement",
	debit_account: "disbursements",
	credit_account: "treasury",
	amount,
	...extra,
});

function ok<T>(result: LedgerWriteResult<T>): T {
	if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.refusal)}`);
	return result.body;
}

describe("transfers and constraints", () => {
	it("posts a transfer, keeps debits equal to credits and refuses an overdraft with nothing applied", async () => {
		const l = nation("GH");
		const first = ok(await l.transfer(fund(10_000), { idempotencyKey: key() }));
		expect(first).toMatchObject({ sequence: 1, status: "posted", amount: 10_000, currency: "USD" });
		ok(await l.transfer(disburse(4_000), { idempotencyKey: key() }));
		const refused = await l.transfer(disburse(6_001), { idempotencyKey: key() });
		expect(refused).toMatchObject({
			ok: false,
			refusal: { code: "unprocessable", reason: "exceeds_debits" },
		});
		const view = await l.balances();
		const treasury = view.accounts.find((a) => a.code === "treasury");
		expect(treasury).toMatchObject({ balance: 6_000, available: 6_000 });
		expect(view.totals.debits_posted).toBe(view.totals.credits_posted);
		expect(view.head.sequence).toBe(2);
	});

	it("validates RPC callers with the same schema as HTTP", async () => {
		const l = nation("SN");
		const result = await l.transfer({ ...fund(5), amount: 0 });
		expect(result).toMatchObject({
			ok: false,
			refusal: { code: "invalid_request", reason: "invalid_input" },
		});
		if (!result.ok) expect(result.refusal.errors?.[0]?.path).toEqual(["amount"]);
		expect((await l.head()).sequence).toBe(0);
	});

	it("treats a client id as idempotent: same fields return the transfer, other fields are refused", async () => {
		const l = nation("CI");
		const created = await l.transfer(fund(500, "fund-1"));
		expect(created).toMatchObject({ ok: true, status: 201 });
		const again = await l.transfer(fund(500, "fund-1"));
		expect(again).toMatchObject({ ok: true, status: 200, body: { id: "fund-1", sequence: 1 } });
		const changed = await l.transfer(fund(501, "fund-1"));
		expect(changed).toMatchObject({
			ok: false,
			refusal: { code: "conflict", reason: "id_already_exists_with_different_fields" },
		});
		expect((await l.head()).sequence).toBe(1);
	});
});

describe("batches", () => {
	it("applies a batch in order, later transfers seeing earlier ones", async () => {
		const l = nation("ZM");
		const batch = ok(await l.batch([fund(1_000), disburse(700), disburse(300)], { idempotencyKey: key() }));
		expect(batch.created).toBe(3);
		expect(batch.transfers.map((t) => t.sequence)).toEqual([1, 2, 3]);
		expect((await l.balances()).accounts.find((a) => a.code === "treasury")?.balance).toBe(0);
	});

	it("refuses the whole batch when one item is refused, listing every refused item", async () => {
		const l = nation("MW");
		const before = await l.head();
		const result = await l.batch([fund(1_000, "a"), disburse(900), disburse(200), fund(5, "a")], {
			idempotencyKey: key(),
		});
		expect(result.ok).toBe(false);
		if (result.ok) return;
		expect(result.refusal).toMatchObject({ code: "unprocessable", reason: "batch_refused" });
		expect(result.refusal.transfer_errors).toEqual([
			expect.objectContaining({ index: 2, reason: "exceeds_debits" }),
			expect.objectContaining({ index: 3, id: "a", reason: "id_used_twice_in_batch" }),
		]);
		expect(await l.head()).toEqual(before);
		expect(await l.getTransfer("a")).toBeNull();
	});

	it("takes 1,000 transfers in one batch", async () => {
		const l = nation("NA");
		const items = Array.from({ length: 1_000 }, (_, i) => fund(i + 1));
		const batch = ok(await l.batch(items, { idempotencyKey: key() }));
		expect(batch.created).toBe(1_000);
		expect((await l.balances()).accounts.find((a) => a.code === "treasury")?.balance).toBe(500_500);
	});

	it("stores a batch too large for one statement whole and in order, every field as given", async () => {
		const l = nation("NR");
		// ~1.5 MB of metadata: the entries go to SQLite in several statements, still one transaction.
		const metadata = (i: number) => ({
			note: `${"é".repeat(300)} #${i}`,
			a: "x".repeat(400),
			b: "y".repeat(400),
			c: "z".repeat(400),
		});
		const items = Array.from({ length: 1_000 }, (_, i) => ({
			...fund(i + 1, `nr-${i}`),
			reference: { period: "2026-Q3" },
			metadata: metadata(i),
		}));
		ok(await l.batch(items, { idempotencyKey: key() }));
		const page = await l.entries({ limit: 1_000 });
		expect(page.entries).toHaveLength(1_000);
		expect(page.entries.map((e) => e.id)).toEqual(items.map((item) => item.id));
		expect(page.entries[999]).toMatchObject({
			sequence: 1_000,
			amount: 1_000,
			metadata: metadata(999),
			reference: { period: "2026-Q3", project_id: null, distribution_id: null },
			expires_at_ms: null,
			pending_id: null,
		});
		expect(verifyChain(page.entries)).toMatchObject({ ok: true, sequence: 1_000 });
	});
});

describe("two-phase transfers", () => {
	it("holds a pending amount against the constraints, then posts part of it and releases the rest", async () => {
		const l = nation("RW");
		ok(await l.transfer(fund(1_000)));
		const pending = ok(await l.transfer(disburse(800, { id: "hold-1", pending: true })));
		expect(pending.status).toBe("pending");
		let treasury = (await l.balances()).accounts.find((a) => a.code === "treasury");
		expect(treasury).toMatchObject({ balance: 1_000, available: 200, credits_pending: 800 });
		expect(await l.transfer(disburse(201))).toMatchObject({
			ok: false,
			refusal: { reason: "exceeds_debits" },
		});

		const posted = ok(await l.post("hold-1", { amount: 500 }, { idempotencyKey: key() }));
		expect(posted).toMatchObject({ id: "hold-1~post", phase: "post", amount: 500, pending_id: "hold-1" });
		treasury = (await l.balances()).accounts.find((a) => a.code === "treasury");
		expect(treasury).toMatchObject({ balance: 500, available: 500, credits_pending: 0 });
		expect(await l.getTransfer("hold-1")).toMatchObject({ status: "posted", resolved_by: "hold-1~post" });

		expect(await l.post("hold-1")).toMatchObject({
			ok: false,
			refusal: { code: "conflict", reason: "pending_transfer_already_posted" },
		});
		expect(await l.void("hold-1")).toMatchObject({
			ok: false,
			refusal: { reason: "pending_transfer_already_posted" },
		});
	});

	it("voids a pending transfer; a voided one cannot be posted; a post cannot exceed the hold", async () => {
		const l = nation("UG");
		ok(await l.transfer(fund(1_000)));
		ok(await l.transfer(disburse(400, { id: "hold-2", pending: true })));
		expect(await l.post("hold-2", { amount: 401 })).toMatchObject({
			ok: false,
			refusal: { reason: "exceeds_pending_transfer_amount" },
		});
		ok(await l.void("hold-2", {}, { idempotencyKey: key() }));
		expect(await l.post("hold-2")).toMatchObject({
			ok: false,
			refusal: { code: "conflict", reason: "pending_transfer_already_voided" },
		});
		expect(await l.post("nope")).toMatchObject({ ok: false, refusal: { code: "not_found" } });
		const single = ok(await l.transfer(fund(1)));
		expect(await l.post(single.id)).toMatchObject({ ok: false, refusal: { reason: "transfer_not_pending" } });
		expect((await l.balances()).accounts.find((a) => a.code === "treasury")?.available).toBe(1_001);
	});

	it("voids itself when its timeout passes (alarm), and then cannot be posted", async () => {
		const l = nation("TZ");
		ok(await l.transfer(fund(1_000)));
		const pending = ok(await l.transfer(disburse(600, { id: "hold-3", pending: true, timeout_seconds: 1 })));
		expect(pending.expires_at).not.toBeNull();
		await new Promise((r) => setTimeout(r, 1_100));
		await runDurableObjectAlarm(l);
		expect(await l.getTransfer("hold-3")).toMatchObject({ status: "expired", resolved_by: "hold-3~expire" });
		expect(await l.getTransfer("hold-3~expire")).toMatchObject({ phase: "expire", amount: 600 });
		expect(await l.post("hold-3")).toMatchObject({
			ok: false,
			refusal: { code: "conflict", reason: "pending_transfer_expired" },
		});
		expect((await l.balances()).accounts.find((a) => a.code === "treasury")?.available).toBe(1_000);
	});
});

describe("reversals", () => {
	it("reverses a posted transfer once; a reversal, a pending transfer and an overdraft are refused", async () => {
		const l = nation("BW");
		const funding = ok(await l.transfer(fund(1_000)));
		const spend = ok(await l.transfer(disburse(300)));
		const reversal = ok(
			await l.reverse(spend.id, { metadata: { reason: "duplicate invoice" } }, { idempotencyKey: key() }),
		);
		expect(reversal).toMatchObject({
			id: `${spend.id}~reversal`,
			kind: "reversal",
			debit_account: "treasury",
			credit_account: "disbursements",
			amount: 300,
			reverses_id: spend.id,
		});
		expect(await l.getTransfer(spend.id)).toMatchObject({ reversed_by: reversal.id });
		expect(await l.reverse(spend.id)).toMatchObject({
			ok: false,
			refusal: { code: "conflict", reason: "transfer_already_reversed" },
		});
		expect(await l.reverse(reversal.id)).toMatchObject({
			ok: false,
			refusal: { reason: "cannot_reverse_reversal" },
		});
		ok(await l.transfer(disburse(900)));
		// Reversing the funding would take 1,000 out of a treasury holding 100.
		expect(await l.reverse(funding.id)).toMatchObject({ ok: false, refusal: { reason: "exceeds_debits" } });
		ok(await l.transfer(disburse(50, { id: "hold-4", pending: true })));
		expect(await l.reverse("hold-4")).toMatchObject({
			ok: false,
			refusal: { reason: "cannot_reverse_pending_transfer" },
		});
		expect(await l.reverse("missing")).toMatchObject({ ok: false, refusal: { code: "not_found" } });
	});
});

describe("idempotency keys", () => {
	it("replays the first response for the same request and refuses a different one", async () => {
		const l = nation("LS");
		const k = key();
		const first = await l.transfer(fund(700), { idempotencyKey: k });
		const retry = await l.transfer(fund(700), { idempotencyKey: k });
		expect(retry).toEqual({ ...first, replayed: true });
		expect(await l.transfer(fund(701), { idempotencyKey: k })).toMatchObject({
			ok: false,
			refusal: { code: "idempotency_key_reused" },
		});
		expect(await l.batch([fund(700)], { idempotencyKey: k })).toMatchObject({
			ok: false,
			refusal: { code: "idempotency_key_reused" },
		});
		expect((await l.head()).sequence).toBe(1);
	});

	it("answers concurrent duplicates with one transfer", async () => {
		const l = nation("SZ");
		const k = key();
		const results = await Promise.all(
			Array.from({ length: 20 }, () => l.transfer(fund(42), { idempotencyKey: k })),
		);
		const bodies = results.map((r) => ok(r) as TransferView);
		expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
		expect(results.filter((r) => r.ok && !r.replayed)).toHaveLength(1);
		expect((await l.head()).sequence).toBe(1);
	});

	it("stores nothing for a refused request, so the key can be retried once the cause is fixed", async () => {
		const l = nation("MZ");
		const k = key();
		expect(await l.transfer(disburse(100), { idempotencyKey: k })).toMatchObject({ ok: false });
		ok(await l.transfer(fund(100)));
		expect(await l.transfer(disburse(100), { idempotencyKey: k })).toMatchObject({
			ok: true,
			replayed: false,
		});
	});

	it("sweeps keys older than 24 hours in the alarm", async () => {
		const l = nation("AO");
		const k = key();
		ok(await l.transfer(fund(1), { idempotencyKey: k }));
		// Run the alarm handler itself: a scheduled alarm may be running a drain right now.
		await runInDurableObject(l, async (instance: NationLedger, state) => {
			state.storage.sql.exec(
				"update idempotency_keys set created_at_ms = created_at_ms - ?",
				24 * 3_600_000 + 1,
			);
			await instance.alarm();
		});
		const remaining = await runInDurableObject(l, (_instance, state) =>
			state.storage.sql.exec("select count(*) as n from idempotency_keys").one(),
		);
		expect(remaining.n).toBe(0);
	});
});

describe("hash chain and durability", () => {
	it("chains every entry from the genesis, and the head digests the balances", async () => {
		const l = nation("NE");
		ok(await l.batch([fund(1_000), disburse(10)]));
		ok(await l.transfer(disburse(5, { id: "h", pending: true })));
		ok(await l.void("h"));
		const page = await l.entries({ fromSeq: 1, toSeq: 100 });
		expect(page.entries.map((e) => e.phase)).toEqual(["single", "single", "pending", "void"]);
		const head = await l.head();
		expect(verifyChain(page.entries)).toEqual({ ok: true, sequence: 4, hash: head.hash });
		const second = await l.entries({ fromSeq: 2, limit: 1 });
		expect(second).toMatchObject({ entries: [{ sequence: 2 }], next_from_seq: 3 });
		expect(
			(await l.entries({ account: "disbursements", phase: "single" })).entries.map((e) => e.sequence),
		).toEqual([2]);
	});

	it("keeps balances, head and keys across an eviction", async () => {
		const l = nation("ML");
		// No drain in flight: eviction waits for running work, and this test is about the object's own storage.
		await setProjectionDatabase("ML", STOPPED_PROJECTION);
		const k = key();
		const first = await l.transfer(fund(300), { idempotencyKey: k });
		const before = await l.balances();
		await evictDurableObject(l);
		const after = await l.balances();
		expect(after.accounts).toEqual(before.accounts);
		expect(after.head).toEqual(before.head);
		expect(await l.transfer(fund(300), { idempotencyKey: k })).toEqual({ ...first, replayed: true });
	});

	it("moves a ledger written before the watermark onto it: what its outbox held is what stays to project", async () => {
		const l = nation("MR");
		await setProjectionDatabase("MR", STOPPED_PROJECTION);
		ok(await l.batch([fund(1), fund(2), fund(3), fund(4), fund(5)]));
		await runInDurableObject(l, (_instance: NationLedger, state) => {
			const { sql } = state.storage;
			// Schema version 1 as it was: an outbox table holding entries 3 to 5, no watermark.
			sql.exec("create table outbox (sequence integer primary key, enqueued_at_ms integer not null)");
			sql.exec(
				"insert into outbox (sequence, enqueued_at_ms) select sequence, 0 from entries where sequence >= 3",
			);
			sql.exec("delete from ledger_meta where key = 'projected_sequence'");
			sql.exec("update ledger_meta set value = '1' where key = 'schema_version'");
			migrateLedgerSchema(state.storage);
			expect(sql.exec("select value from ledger_meta where key = 'projected_sequence'").one()).toEqual({
				value: "2",
			});
			expect(sql.exec("select name from sqlite_master where name = 'outbox'").toArray()).toEqual([]);
		});
		expect((await l.balances()).projection).toMatchObject({ lag_entries: 3, projected_sequence: 2 });
	});
});
