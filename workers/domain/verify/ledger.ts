import { z } from "zod";
import { ACCOUNT_CODES, TRANSFER_KINDS } from "../ledger/accounts.ts";
import {
	applyMovement,
	type BalanceSheet,
	balancesDigest,
	emptyBalanceSheet,
	type Movement,
} from "../ledger/balances.ts";
import { ENTRY_PHASES, GENESIS_HASH, hashEntry, type LedgerEntry } from "../ledger/entry.ts";
import type { CheckpointPayload } from "./checkpoint.ts";

/**
 * The verifier's core: given a signed checkpoint (already verified, see checkpoint.ts) and the entries from the
 * genesis up to it, re-derive everything the checkpoint claims, trusting nothing the server says about itself:
 *
 * 1. the chain: entries numbered 1, 2, 3 ... without a gap, each hash recomputed from the entry's canonical
 *    document (docs/ledger.md), each `prev_hash` equal to its predecessor's hash;
 * 2. the balances: every entry replayed through the ledger's own balance rules (pending holds, posts, voids,
 *    expiries, constraints), and the digest of the result compared with the checkpoint's;
 * 3. the head: the last entry's hash and time equal the checkpoint's;
 * 4. consistency with an earlier checkpoint of the same nation: the later one extends it, i.e. the replay
 *    passes through the earlier checkpoint's sequence with exactly its hash, time and balances digest.
 *
 * The result names the first sequence number that does not verify. Pure: the worker's tests and the Node CLI
 * (scripts/verify-ledger.ts) run the same code.
 */

/** The entry shape as the entries API returns it (extra members, such as the ISO `timestamp`, are ignored). */
const ApiEntry = z.object({
	nation: z.string(),
	sequence: z.int().min(1),
	id: z.string(),
	kind: z.enum(TRANSFER_KINDS),
	phase: z.enum(ENTRY_PHASES),
	debit_account: z.enum(ACCOUNT_CODES),
	credit_account: z.enum(ACCOUNT_CODES),
	amount: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
	pending_id: z.string().nullable(),
	reverses_id: z.string().nullable(),
	reference: z.object({
		project_id: z.string().nullable(),
		distribution_id: z.string().nullable(),
		period: z.string().nullable(),
	}),
	metadata: z.record(z.string(), z.string()),
	timestamp_ms: z.int(),
	expires_at_ms: z.int().nullable(),
	prev_hash: z.string(),
	hash: z.string(),
});

export type LedgerCheck = "entries" | "chain" | "balances" | "head" | "consistency";

export type LedgerVerification =
	| {
			ok: true;
			nation: string;
			sequence: number;
			hash: string;
			balances_digest: string;
			entries_verified: number;
			/** The earlier checkpoint this one was shown to extend, if one was given. */
			extends: { sequence: number; hash: string } | null;
	  }
	| {
			ok: false;
			check: LedgerCheck;
			/** The first sequence number that does not verify. */
			sequence: number;
			reason: string;
			detail: string;
	  };

type Failure = Extract<LedgerVerification, { ok: false }>;

const fail = (check: LedgerCheck, sequence: number, reason: string, detail: string): Failure => ({
	ok: false,
	check,
	sequence,
	reason,
	detail,
});

interface Hold {
	amount: number;
	debit: LedgerEntry["debit_account"];
	credit: LedgerEntry["credit_account"];
	resolved: boolean;
}

/** What an entry does to the balances, as the ledger applied it; a string when the entry cannot be applied. */
function movementOf(entry: LedgerEntry, holds: Map<string, Hold>): Movement | string {
	switch (entry.phase) {
		case "single":
			return {
				effect: "post",
				debit: entry.debit_account,
				credit: entry.credit_account,
				amount: entry.amount,
			};
		case "pending":
			return {
				effect: "reserve",
				debit: entry.debit_account,
				credit: entry.credit_account,
				amount: entry.amount,
			};
		case "post":
		case "void":
		case "expire": {
			const hold = entry.pending_id === null ? undefined : holds.get(entry.pending_id);
			if (!hold) return `resolves ${JSON.stringify(entry.pending_id)}, which is no earlier pending transfer`;
			if (hold.resolved) return `resolves pending transfer ${entry.pending_id} a second time`;
			if (hold.debit !== entry.debit_account || hold.credit !== entry.credit_account) {
				return `moves other accounts than pending transfer ${entry.pending_id}`;
			}
			if (entry.phase === "post") {
				if (entry.amount > hold.amount) return `posts ${entry.amount} cents of a hold of ${hold.amount}`;
				return {
					effect: "post_pending",
					debit: entry.debit_account,
					credit: entry.credit_account,
					amount: entry.amount,
					held: hold.amount,
				};
			}
			if (entry.amount !== hold.amount) return `releases ${entry.amount} cents of a hold of ${hold.amount}`;
			return {
				effect: "release",
				debit: entry.debit_account,
				credit: entry.credit_account,
				held: hold.amount,
			};
		}
	}
}

/**
 * Verifies `entries` (from sequence 1, in order) against `checkpoint`, and against `earlier` when given.
 * Entries past the checkpoint's sequence are ignored: a checkpoint vouches for its prefix only.
 */
export function verifyLedger(input: {
	checkpoint: CheckpointPayload;
	entries: Iterable<unknown>;
	earlier?: CheckpointPayload;
}): LedgerVerification {
	const { checkpoint, earlier } = input;
	if (earlier) {
		if (earlier.nation !== checkpoint.nation) {
			return fail(
				"consistency",
				0,
				"different_nation",
				`the earlier checkpoint is ${earlier.nation}'s, this one ${checkpoint.nation}'s`,
			);
		}
		if (earlier.sequence > checkpoint.sequence) {
			return fail(
				"consistency",
				checkpoint.sequence + 1,
				"ledger_shortened",
				`the earlier checkpoint is at sequence ${earlier.sequence} but this one only at ${checkpoint.sequence}: entries from ${checkpoint.sequence + 1} on have disappeared`,
			);
		}
	}
	const sheet: BalanceSheet = emptyBalanceSheet();
	const holds = new Map<string, Hold>();
	let head = { sequence: 0, hash: GENESIS_HASH, timestamp_ms: null as number | null };
	let extendsEarlier: { sequence: number; hash: string } | null = null;
	const checkEarlier = (): Failure | null => {
		if (!earlier || head.sequence !== earlier.sequence) return null;
		const headTime = head.timestamp_ms === null ? null : new Date(head.timestamp_ms).toISOString();
		if (head.hash !== earlier.hash || headTime !== earlier.head_time) {
			return fail(
				"consistency",
				Math.max(earlier.sequence, 1),
				"fork",
				`at sequence ${earlier.sequence} the ledger's hash is ${head.hash} but the earlier checkpoint signed ${earlier.hash}: this ledger does not extend it`,
			);
		}
		if (balancesDigest(sheet) !== earlier.balances_digest) {
			return fail(
				"consistency",
				Math.max(earlier.sequence, 1),
				"balances_differ_from_earlier",
				`after sequence ${earlier.sequence} the replayed balances do not match the earlier checkpoint's digest`,
			);
		}
		extendsEarlier = { sequence: earlier.sequence, hash: earlier.hash };
		return null;
	};
	const atGenesis = checkEarlier();
	if (atGenesis) return atGenesis;

	for (const raw of input.entries) {
		if (head.sequence >= checkpoint.sequence) break;
		const expected = head.sequence + 1;
		const parsed = ApiEntry.safeParse(raw);
		if (!parsed.success) {
			const issue = parsed.error.issues[0];
			return fail(
				"entries",
				expected,
				"malformed_entry",
				`entry after sequence ${head.sequence} is malformed: ${issue?.path.join(".")}: ${issue?.message}`,
			);
		}
		const entry = parsed.data as LedgerEntry;
		if (entry.sequence > expected) {
			return fail(
				"chain",
				expected,
				"missing_entry",
				`entry ${expected} is missing: the next entry given is ${entry.sequence}`,
			);
		}
		if (entry.sequence < expected) {
			return fail(
				"chain",
				entry.sequence,
				"duplicate_entry",
				`entry ${entry.sequence} appears again after entry ${head.sequence}`,
			);
		}
		if (entry.nation !== checkpoint.nation) {
			return fail(
				"chain",
				entry.sequence,
				"wrong_nation",
				`entry ${entry.sequence} belongs to ${entry.nation}'s ledger`,
			);
		}
		if (entry.prev_hash !== head.hash) {
			return fail(
				"chain",
				entry.sequence,
				"prev_hash_mismatch",
				`entry ${entry.sequence} does not link to entry ${head.sequence}'s hash`,
			);
		}
		if (hashEntry(entry) !== entry.hash) {
			return fail(
				"chain",
				entry.sequence,
				"hash_mismatch",
				`entry ${entry.sequence}'s content does not hash to its recorded hash: it was altered`,
			);
		}
		if (head.timestamp_ms !== null && entry.timestamp_ms < head.timestamp_ms) {
			return fail(
				"chain",
				entry.sequence,
				"time_went_backwards",
				`entry ${entry.sequence} is older than entry ${head.sequence}`,
			);
		}
		const movement = movementOf(entry, holds);
		if (typeof movement === "string") {
			return fail("balances", entry.sequence, "invalid_movement", `entry ${entry.sequence} ${movement}`);
		}
		const refused = applyMovement(sheet, movement);
		if (refused) {
			return fail(
				"balances",
				entry.sequence,
				refused,
				`entry ${entry.sequence} breaks the ledger's balance rules (${refused})`,
			);
		}
		if (entry.phase === "pending") {
			holds.set(entry.id, {
				amount: entry.amount,
				debit: entry.debit_account,
				credit: entry.credit_account,
				resolved: false,
			});
		} else if (entry.pending_id !== null) {
			const hold = holds.get(entry.pending_id);
			if (hold) hold.resolved = true;
		}
		head = { sequence: entry.sequence, hash: entry.hash, timestamp_ms: entry.timestamp_ms };
		const inconsistent = checkEarlier();
		if (inconsistent) return inconsistent;
	}

	if (head.sequence < checkpoint.sequence) {
		return fail(
			"chain",
			head.sequence + 1,
			"missing_entry",
			`the entries end at sequence ${head.sequence} but the checkpoint is at ${checkpoint.sequence}`,
		);
	}
	if (head.hash !== checkpoint.hash) {
		return fail(
			"head",
			checkpoint.sequence,
			"head_hash_mismatch",
			`entry ${checkpoint.sequence}'s hash is not the one the checkpoint signed`,
		);
	}
	const headTime = head.timestamp_ms === null ? null : new Date(head.timestamp_ms).toISOString();
	if (headTime !== checkpoint.head_time) {
		return fail(
			"head",
			checkpoint.sequence,
			"head_time_mismatch",
			`entry ${checkpoint.sequence}'s time is not the one the checkpoint signed`,
		);
	}
	const digest = balancesDigest(sheet);
	if (digest !== checkpoint.balances_digest) {
		return fail(
			"balances",
			checkpoint.sequence,
			"balances_digest_mismatch",
			"the balances replayed from the entries do not match the checkpoint's balances digest",
		);
	}
	return {
		ok: true,
		nation: checkpoint.nation,
		sequence: checkpoint.sequence,
		hash: checkpoint.hash,
		balances_digest: digest,
		entries_verified: head.sequence,
		extends: extendsEarlier,
	};
}
