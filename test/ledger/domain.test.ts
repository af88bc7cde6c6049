import { describe, expect, it } from "vitest";
import {
	ACCOUNT_CODES,
	ACCOUNTS,
	CREATABLE_KINDS,
	KIND_PAIRS,
} from "../../workers/domain/ledger/accounts.ts";
import {
	applyMovement,
	balancesDigest,
	constraintViolations,
	emptyBalanceSheet,
} from "../../workers/domain/ledger/balances.ts";
import { canonicalJson, sha256Hex } from "../../workers/domain/ledger/canonical.ts";
import {
	entryCanonicalJson,
	entryDocument,
	GENESIS_HASH,
	hashEntry,
	type LedgerEntry,
	type UnhashedEntry,
	verifyChain,
} from "../../workers/domain/ledger/entry.ts";
import { LEDGER_NATIONS, nationByCode } from "../../workers/domain/ledger/nations.ts";
import { BatchInput, TransferInput } from "../../workers/domain/ledger/transfer-input.ts";

async function subtleSha256(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const FIRST: UnhashedEntry = {
	nation: "KE",
	sequence: 1,
	id: "fund-2026-01",
	kind: "adjustment",
	phase: "single",
	debit_account: "treasury",
	credit_account: "national_funding",
	amount: 125_000,
	pending_id: null,
	reverses_id: null,
	reference: { project_id: null, distribution_id: null, period: "2026-Q1" },
	metadata: { note: 'Budget line 7 — "covenant"', b: "2" },
	timestamp_ms: 1_795_000_000_000,
	expires_at_ms: null,
	prev_hash: GENESIS_HASH,
};

describe("canonical encoding", () => {
	it("sorts keys, writes integers as decimal strings, escapes strings like JSON.stringify, keeps nulls", () => {
		expect(canonicalJson({ b: 2, a: [1, null, true, "x\n\u00e9"], c: { z: -7, y: 9007199254740991n } })).toBe(
			'{"a":["1",null,true,"x\\né"],"b":"2","c":{"y":"9007199254740991","z":"-7"}}',
		);
	});

	it("refuses numbers that are not safe integers", () => {
		expect(() => canonicalJson({ amount: 1.5 })).toThrow(RangeError);
		expect(() => canonicalJson({ amount: 2 ** 53 })).toThrow(RangeError);
	});

	it("hashes with standard SHA-256 (FIPS 180-2 test vectors)", async () => {
		expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
		const long = "é".repeat(10_000);
		expect(sha256Hex(long)).toBe(await subtleSha256(long));
	});

	it("the ledger's fast entry encoder writes exactly the generic canonical encoding", () => {
		const variants: UnhashedEntry[] = [
			FIRST,
			{
				...FIRST,
				sequence: 9_007_199_254_740_991,
				phase: "pending",
				expires_at_ms: 1_795_000_060_000,
				pending_id: null,
				reference: {
					project_id: "0b6f8c1e-3c1a-4d6e-9f10-2b3c4d5e6f70",
					distribution_id: "d-1",
					period: null,
				},
				metadata: { "z.key": "\u0000 \t \u2028 😀", A_key: "", "0": "zero" },
			},
			{ ...FIRST, phase: "post", pending_id: "hold-1", reverses_id: null, metadata: {} },
			{ ...FIRST, kind: "reversal", reverses_id: "x~post", id: "x~post~reversal" },
		];
		for (const entry of variants) expect(entryCanonicalJson(entry)).toBe(canonicalJson(entryDocument(entry)));
	});

	it("an entry's hash is SHA-256 of exactly the documented canonical document", async () => {
		const documented =
			'{"amount":"125000","credit_account":"national_funding","currency":"USD","debit_account":"treasury","expires_at_ms":null,"id":"fund-2026-01","kind":"adjustment","metadata":{"b":"2","note":"Budget line 7 — \\"covenant\\""},"nation":"KE","pending_id":null,"phase":"single","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","reference":{"distribution_id":null,"period":"2026-Q1","project_id":null},"reverses_id":null,"sequence":"1","timestamp_ms":"1795000000000","v":"1"}';
		expect(canonicalJson(entryDocument(FIRST))).toBe(documented);
		expect(hashEntry(FIRST)).toBe(await subtleSha256(documented));
	});
});

describe("hash chain verification", () => {
	function chainOf(count: number): LedgerEntry[] {
		const entries: LedgerEntry[] = [];
		let prev = GENESIS_HASH;
		for (let i = 1; i <= count; i++) {
			const unhashed = { ...FIRST, sequence: i, id: `t-${i}`, amount: i * 100, prev_hash: prev };
			const entry = { ...unhashed, hash: hashEntry(unhashed) };
			entries.push(entry);
			prev = entry.hash;
		}
		return entries;
	}

	it("accepts an intact chain and returns its head", () => {
		const entries = chainOf(5);
		expect(verifyChain(entries)).toEqual({ ok: true, sequence: 5, hash: entries[4]?.hash });
		expect(verifyChain(entries.slice(2), { sequence: 2, hash: entries[1]?.hash ?? "" }).ok).toBe(true);
	});

	it("finds an edited amount, a removed entry and a re-hashed edit", () => {
		const edited = chainOf(5);
		edited[2] = { ...(edited[2] as LedgerEntry), amount: 1 };
		expect(verifyChain(edited)).toEqual({ ok: false, sequence: 3, reason: "hash_mismatch" });

		const gap = chainOf(5);
		gap.splice(2, 1);
		expect(verifyChain(gap)).toEqual({ ok: false, sequence: 4, reason: "sequence_gap" });

		const rehashed = chainOf(5);
		const forged = { ...(rehashed[2] as LedgerEntry), amount: 1 };
		rehashed[2] = { ...forged, hash: hashEntry(forged) };
		expect(verifyChain(rehashed)).toEqual({ ok: false, sequence: 4, reason: "prev_hash_mismatch" });
	});
});

describe("balance constraints", () => {
	it("refuses to overdraw a debit-normal account, counting pending holds", () => {
		const sheet = emptyBalanceSheet();
		expect(
			applyMovement(sheet, { effect: "post", debit: "treasury", credit: "national_funding", amount: 100 }),
		).toBeNull();
		expect(
			applyMovement(sheet, { effect: "reserve", debit: "disbursements", credit: "treasury", amount: 60 }),
		).toBeNull();
		expect(
			applyMovement(sheet, { effect: "post", debit: "disbursements", credit: "treasury", amount: 41 }),
		).toBe("exceeds_debits");
		expect(sheet.treasury).toEqual({
			debits_pending: 0,
			debits_posted: 100,
			credits_pending: 60,
			credits_posted: 0,
		});
		expect(
			applyMovement(sheet, { effect: "release", debit: "disbursements", credit: "treasury", held: 60 }),
		).toBeNull();
		expect(
			applyMovement(sheet, { effect: "post", debit: "disbursements", credit: "treasury", amount: 100 }),
		).toBeNull();
		expect(constraintViolations(sheet)).toEqual([]);
	});

	it("refuses to debit a credit-normal account below zero", () => {
		const sheet = emptyBalanceSheet();
		expect(
			applyMovement(sheet, { effect: "post", debit: "contributions_payable", credit: "treasury", amount: 1 }),
		).toBe("exceeds_credits");
	});

	it("refuses totals beyond 2^53 − 1", () => {
		const sheet = emptyBalanceSheet();
		const max = Number.MAX_SAFE_INTEGER;
		expect(
			applyMovement(sheet, { effect: "post", debit: "treasury", credit: "national_funding", amount: max }),
		).toBeNull();
		expect(
			applyMovement(sheet, { effect: "post", debit: "treasury", credit: "national_funding", amount: 1 }),
		).toBe("overflows_debits");
	});

	it("digests balances canonically", () => {
		const a = emptyBalanceSheet();
		const b = emptyBalanceSheet();
		expect(balancesDigest(a)).toBe(balancesDigest(b));
		applyMovement(b, { effect: "post", debit: "treasury", credit: "national_funding", amount: 1 });
		expect(balancesDigest(a)).not.toBe(balancesDigest(b));
	});
});

describe("chart of accounts and inputs", () => {
	it("every kind's pairs use distinct, known accounts", () => {
		for (const kind of CREATABLE_KINDS) {
			for (const pair of KIND_PAIRS[kind]) {
				expect(ACCOUNT_CODES).toContain(pair.debit);
				expect(ACCOUNT_CODES).toContain(pair.credit);
				expect(pair.debit).not.toBe(pair.credit);
			}
		}
		expect(ACCOUNT_CODES.filter((c) => ACCOUNTS[c].constraint === "none")).toEqual(["national_funding"]);
	});

	it("validates amounts, accounts, kinds and pairs", () => {
		const base = {
			kind: "disbursement",
			debit_account: "disbursements",
			credit_account: "treasury",
			amount: 100,
		};
		expect(TransferInput.safeParse(base).success).toBe(true);
		for (const amount of [0, -1, 1.5, 2 ** 53, "100", null]) {
			expect(TransferInput.safeParse({ ...base, amount }).success, String(amount)).toBe(false);
		}
		expect(TransferInput.safeParse({ ...base, amount: Number.MAX_SAFE_INTEGER }).success).toBe(true);
		expect(
			TransferInput.safeParse({ ...base, credit_account: "disbursements" }).error?.issues[0]?.message,
		).toMatch(/must be different/);
		expect(TransferInput.safeParse({ ...base, credit_account: "cash" }).success).toBe(false);
		expect(TransferInput.safeParse({ ...base, kind: "reversal" }).success).toBe(false);
		expect(
			TransferInput.safeParse({ ...base, credit_account: "distributions_received" }).error?.issues[0]
				?.message,
		).toMatch(/cannot move money/);
		expect(TransferInput.safeParse({ ...base, timeout_seconds: 5 }).success).toBe(false);
		expect(TransferInput.safeParse({ ...base, surprise: 1 }).success).toBe(false);
		expect(BatchInput.safeParse({ transfers: Array.from({ length: 1001 }, () => base) }).success).toBe(false);
	});

	it("resolves the 195 nations by alpha-2 or alpha-3 in any case", () => {
		expect(LEDGER_NATIONS).toHaveLength(195);
		expect(nationByCode("ke")?.iso2).toBe("KE");
		expect(nationByCode("KEN")?.serving_region).toBe("jnb");
		expect(nationByCode("xx")).toBeUndefined();
		expect(nationByCode("K")).toBeUndefined();
	});
});
