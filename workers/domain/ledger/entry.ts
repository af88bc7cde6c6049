import type { AccountCode, TransferKind } from "./accounts.ts";
import { type CanonicalValue, sha256Hex } from "./canonical.ts";

/**
 * What an entry records:
 * - `single`: a transfer posted at once;
 * - `pending`: the first phase of a two-phase transfer, holding its amount;
 * - `post` / `void`: the second phase, posting (all or part of) or releasing a pending transfer's hold;
 * - `expire`: the ledger releasing a pending transfer whose timeout passed.
 */
export const ENTRY_PHASES = ["single", "pending", "post", "void", "expire"] as const;
export type EntryPhase = (typeof ENTRY_PHASES)[number];

/** The previous hash of the first entry of every ledger. */
export const GENESIS_HASH = "0".repeat(64);

/** The version of the canonical entry document below; it is part of the hashed content. */
export const ENTRY_FORMAT_VERSION = 1;

export type EntryReference = {
	/** The project the money concerns, if any (a UUID from the projects API). */
	project_id: string | null;
	/** The distribution (saga) the money belongs to, if any. */
	distribution_id: string | null;
	/** The accounting period: `YYYY`, `YYYY-Qn` or `YYYY-MM`. */
	period: string | null;
};

/**
 * One immutable ledger entry: a transfer, or the second phase of one. Entries are numbered 1, 2, 3 ... per nation
 * with no gap, and each carries the hash of its predecessor, so the sequence is a hash chain.
 */
export interface LedgerEntry {
	nation: string;
	sequence: number;
	/** The transfer id (client-chosen, or assigned by the ledger). Unique within the nation's ledger. */
	id: string;
	kind: TransferKind;
	phase: EntryPhase;
	debit_account: AccountCode;
	credit_account: AccountCode;
	/** Integer USD cents, > 0. For `post` the amount posted; for `void` / `expire` the hold released. */
	amount: number;
	/** For post / void / expire: the pending transfer resolved. */
	pending_id: string | null;
	/** For a reversal: the transfer reversed. */
	reverses_id: string | null;
	reference: EntryReference;
	metadata: Readonly<Record<string, string>>;
	/** Milliseconds since the Unix epoch; never decreases along the sequence. */
	timestamp_ms: number;
	/** For a pending transfer with a timeout: when it voids itself. */
	expires_at_ms: number | null;
	prev_hash: string;
	hash: string;
}

export type UnhashedEntry = Omit<LedgerEntry, "hash">;

/**
 * The canonical document an entry's hash covers: every member of the entry except the hash itself, with the
 * format version as `v`. Integers become decimal strings under the canonical encoding (canonical.ts).
 */
export function entryDocument(entry: UnhashedEntry): { [key: string]: CanonicalValue } {
	return {
		v: ENTRY_FORMAT_VERSION,
		nation: entry.nation,
		sequence: entry.sequence,
		id: entry.id,
		kind: entry.kind,
		phase: entry.phase,
		debit_account: entry.debit_account,
		credit_account: entry.credit_account,
		amount: entry.amount,
		currency: "USD",
		pending_id: entry.pending_id,
		reverses_id: entry.reverses_id,
		reference: {
			project_id: entry.reference.project_id,
			distribution_id: entry.reference.distribution_id,
			period: entry.reference.period,
		},
		metadata: { ...entry.metadata },
		timestamp_ms: entry.timestamp_ms,
		expires_at_ms: entry.expires_at_ms,
		prev_hash: entry.prev_hash,
	};
}

/** SHA-256 over the entry's canonical document, which includes the previous entry's hash. */
export function hashEntry(entry: UnhashedEntry): string {
	return sha256Hex(entryCanonicalJson(entry));
}

const str = (value: string) => JSON.stringify(value);
const strOrNull = (value: string | null) => (value === null ? "null" : JSON.stringify(value));
const int = (value: number) => {
	if (!Number.isSafeInteger(value))
		throw new RangeError(`canonical JSON carries only safe integers, got ${value}`);
	return `"${value}"`;
};

/**
 * `canonicalJson(entryDocument(entry))`, written out member by member in canonical (sorted) order: the ledger
 * hashes every entry it records, and this avoids building and sorting a document each time. The tests hold it
 * equal to the generic encoding.
 */
export function entryCanonicalJson(entry: UnhashedEntry): string {
	const metadata = Object.keys(entry.metadata)
		.sort()
		.map((key) => `${str(key)}:${str(entry.metadata[key] as string)}`)
		.join(",");
	const reference = entry.reference;
	return (
		`{"amount":${int(entry.amount)},"credit_account":${str(entry.credit_account)},"currency":"USD"` +
		`,"debit_account":${str(entry.debit_account)}` +
		`,"expires_at_ms":${entry.expires_at_ms === null ? "null" : int(entry.expires_at_ms)}` +
		`,"id":${str(entry.id)},"kind":${str(entry.kind)},"metadata":{${metadata}},"nation":${str(entry.nation)}` +
		`,"pending_id":${strOrNull(entry.pending_id)},"phase":${str(entry.phase)},"prev_hash":${str(entry.prev_hash)}` +
		`,"reference":{"distribution_id":${strOrNull(reference.distribution_id)},"period":${strOrNull(reference.period)},"project_id":${strOrNull(reference.project_id)}}` +
		`,"reverses_id":${strOrNull(entry.reverses_id)},"sequence":${int(entry.sequence)}` +
		`,"timestamp_ms":${int(entry.timestamp_ms)},"v":"${ENTRY_FORMAT_VERSION}"}`
	);
}

export type ChainCheck =
	| { ok: true; sequence: number; hash: string }
	| { ok: false; sequence: number; reason: "sequence_gap" | "prev_hash_mismatch" | "hash_mismatch" };

/**
 * Verifies a run of consecutive entries: numbering without gaps, each linked to its predecessor, each hash
 * recomputed from the content. `from` is where the run starts: the genesis (sequence 0, GENESIS_HASH) or the last
 * entry already verified. Returns the new head, or the first entry that does not verify.
 */
export function verifyChain(
	entries: Iterable<LedgerEntry>,
	from: { sequence: number; hash: string } = { sequence: 0, hash: GENESIS_HASH },
): ChainCheck {
	let head = from;
	for (const entry of entries) {
		if (entry.sequence !== head.sequence + 1)
			return { ok: false, sequence: entry.sequence, reason: "sequence_gap" };
		if (entry.prev_hash !== head.hash) {
			return { ok: false, sequence: entry.sequence, reason: "prev_hash_mismatch" };
		}
		if (hashEntry(entry) !== entry.hash)
			return { ok: false, sequence: entry.sequence, reason: "hash_mismatch" };
		head = { sequence: entry.sequence, hash: entry.hash };
	}
	return { ok: true, ...head };
}
