import { afterAll, expect, it } from "vitest";
import type { LedgerWriteResult } from "../../durable-objects/nation-ledger/client.ts";
import { type AccountCode, KIND_PAIRS } from "../../workers/domain/ledger/accounts.ts";
import {
	applyMovement,
	constraintViolations,
	emptyBalanceSheet,
	type BalanceSheet,
} from "../../workers/domain/ledger/balances.ts";
import { type LedgerEntry, verifyChain } from "../../workers/domain/ledger/entry.ts";
import type { TransferView } from "../../workers/domain/ledger/views.ts";
import { deleteProjection, drain, key, ledger, projectedEntries } from "./support.ts";

const NATION = "BR";
afterAll(() => deleteProjection([NATION]));

const CLIENTS = 16;
const OPS_PER_CLIENT = 60;

/** Every creatable pair whose accounts are both constrained (national_funding is the only unconstrained one). */
const CONSTRAINED_PAIRS = Object.entries(KIND_PAIRS).flatMap(([kind, pairs]) =>
	pairs
		.filter((p) => p.debit !== "national_funding" && p.credit !== "national_funding")
		.map((p) => ({ kind, debit: p.debit, credit: p.credit })),
);

/** A deterministic generator, so a failure can be reproduced. */
function random(seed: number) {
	let state = seed;
	return () => {
		state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
		return state / 2 ** 31;
	};
}

function sheetOf(view: Awaited<ReturnType<ReturnType<typeof ledger>["balances"]>>): BalanceSheet {
	const sheet = emptyBalanceSheet();
	for (const a of view.accounts) {
		sheet[a.code] = {
			debits_pending: a.debits_pending,
			debits_posted: a.debits_posted,
			credits_pending: a.credits_pending,
			credits_posted: a.credits_posted,
		};
	}
	return sheet;
}

it("concurrent clients with retries never break a constraint, lose or duplicate a transfer", async () => {
	const l = ledger(NATION);
	const seed = await l.batch([
		{ kind: "adjustment", debit_account: "treasury", credit_account: "national_funding", amount: 2_000_000 },
		{
			kind: "contribution",
			debit_account: "fund_contributions",
			credit_account: "contributions_payable",
			amount: 500_000,
		},
		{
			kind: "distribution",
			debit_account: "distributions_receivable",
			credit_account: "distributions_received",
			amount: 500_000,
		},
	]);
	expect(seed.ok).toBe(true);

	/** Every transfer the ledger acknowledged, by id, with the key and body that created it. */
	const acknowledged = new Map<string, { body: Record<string, unknown>; sequence: number }>();
	const mismatchedRetriesOfAcknowledged: LedgerWriteResult<TransferView>[] = [];
	const violationsSeen: AccountCode[][] = [];
	let refusedForBalance = 0;

	const acknowledge = (result: LedgerWriteResult<TransferView>, body: Record<string, unknown>) => {
		if (!result.ok) {
			expect(["exceeds_debits", "exceeds_credits"], JSON.stringify(result.refusal)).toContain(
				result.refusal.reason,
			);
			refusedForBalance += 1;
			return;
		}
		const known = acknowledged.get(result.body.id);
		if (known) expect(known.sequence).toBe(result.body.sequence);
		else acknowledged.set(result.body.id, { body, sequence: result.body.sequence });
	};

	async function client(index: number) {
		const next = random(index + 1);
		for (let op = 0; op < OPS_PER_CLIENT; op++) {
			const pair = CONSTRAINED_PAIRS[Math.floor(next() * CONSTRAINED_PAIRS.length)];
			if (!pair) throw new Error("no pair");
			const pending = next() < 0.15;
			const body: Record<string, unknown> = {
				kind: pair.kind,
				debit_account: pair.debit,
				credit_account: pair.credit,
				amount: 1 + Math.floor(next() * 60_000),
				metadata: { client: String(index), op: String(op) },
				...(pending ? { pending: true } : {}),
			};
			const k = key(`c${index}`);
			const roll = next();
			if (roll < 0.2) {
				// a retry racing the original: both must answer with the same transfer (or the same refusal)
				const [first, retry] = await Promise.all([
					l.transfer(body, { idempotencyKey: k }),
					l.transfer(body, { idempotencyKey: k }),
				]);
				acknowledge(first, body);
				acknowledge(retry, body);
				if (first.ok && retry.ok) expect(retry.body.id).toBe(first.body.id);
			} else {
				const first = await l.transfer(body, { idempotencyKey: k });
				acknowledge(first, body);
				if (roll < 0.3) {
					const changed = { ...body, amount: (body.amount as number) + 1 };
					const retry = await l.transfer(changed, { idempotencyKey: k });
					if (first.ok) mismatchedRetriesOfAcknowledged.push(retry);
					else acknowledge(retry, changed);
				}
				if (first.ok && pending) {
					const resolved =
						next() < 0.5
							? await l.post(first.body.id, {}, { idempotencyKey: key("post") })
							: await l.void(first.body.id, {}, { idempotencyKey: key("void") });
					expect(resolved.ok, JSON.stringify(resolved)).toBe(true);
				}
			}
			if (op % 10 === 0) violationsSeen.push(constraintViolations(sheetOf(await l.balances())));
		}
	}

	await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));

	// Every mismatched retry of an acknowledged request was refused, and changed nothing.
	expect(mismatchedRetriesOfAcknowledged.length).toBeGreaterThan(0);
	for (const retry of mismatchedRetriesOfAcknowledged) {
		expect(retry).toMatchObject({ ok: false, refusal: { code: "idempotency_key_reused" } });
	}
	expect(violationsSeen.flat()).toEqual([]);
	expect(refusedForBalance).toBeGreaterThan(0);

	// Read the whole ledger back.
	const entries: LedgerEntry[] = [];
	for (let from: number | null = 1; from !== null; ) {
		const page = await l.entries({ fromSeq: from, limit: 1_000 });
		entries.push(...page.entries);
		from = page.next_from_seq;
	}
	const head = await l.head();
	expect(verifyChain(entries)).toEqual({ ok: true, sequence: head.sequence, hash: head.hash });

	// Every acknowledged transfer is there exactly once, as acknowledged; nothing else was created by clients.
	const byId = new Map<string, LedgerEntry[]>();
	for (const entry of entries) byId.set(entry.id, [...(byId.get(entry.id) ?? []), entry]);
	for (const [id, { body, sequence }] of acknowledged) {
		const found = byId.get(id) ?? [];
		expect(found, id).toHaveLength(1);
		expect(found[0]).toMatchObject({ sequence, amount: body.amount, debit_account: body.debit_account });
	}
	const clientCreated = entries.filter(
		(e) => e.sequence > 3 && (e.phase === "single" || e.phase === "pending"),
	);
	expect(clientCreated).toHaveLength(acknowledged.size);

	// Replaying the entries never takes a constrained account out of bounds and lands on the ledger's balances.
	const replay = emptyBalanceSheet();
	const held = new Map<string, number>();
	for (const entry of entries) {
		const accounts = { debit: entry.debit_account, credit: entry.credit_account };
		let refused: string | null = null;
		if (entry.phase === "single")
			refused = applyMovement(replay, { effect: "post", ...accounts, amount: entry.amount });
		else if (entry.phase === "pending") {
			held.set(entry.id, entry.amount);
			refused = applyMovement(replay, { effect: "reserve", ...accounts, amount: entry.amount });
		} else if (entry.phase === "post") {
			refused = applyMovement(replay, {
				effect: "post_pending",
				...accounts,
				amount: entry.amount,
				held: held.get(entry.pending_id ?? "") ?? Number.NaN,
			});
		} else refused = applyMovement(replay, { effect: "release", ...accounts, held: entry.amount });
		expect(refused, `sequence ${entry.sequence}`).toBeNull();
		expect(constraintViolations(replay), `sequence ${entry.sequence}`).toEqual([]);
	}
	const final = await l.balances();
	expect(replay).toEqual(sheetOf(final));
	expect(final.totals.debits_posted).toBe(final.totals.credits_posted);
	expect(final.totals.debits_pending).toBe(final.totals.credits_pending);

	// And the projection converges to exactly the ledger.
	await drain(NATION, 50);
	const projected = await projectedEntries(NATION);
	expect(projected.map((r) => [r.sequence, r.transferId, r.amountCents, r.hash])).toEqual(
		entries.map((e) => [e.sequence, e.id, e.amount, e.hash]),
	);
}, 60_000);
