import type {
	AccountClass,
	AccountCode,
	BalanceConstraint,
	NormalBalance,
	TransferKind,
} from "./accounts.ts";
import type { EntryPhase, EntryReference, LedgerEntry } from "./entry.ts";

/**
 * The shapes the ledger answers with, shared by the Durable Object (which builds them) and the HTTP routes
 * (whose zod schemas document them). Amounts are integer USD cents; times are ISO 8601 UTC.
 */

/** A transfer's state: a pending transfer moves to posted, voided or expired exactly once. */
export type TransferStatus = "pending" | "posted" | "voided" | "expired";

export interface TransferView {
	id: string;
	nation: string;
	sequence: number;
	kind: TransferKind;
	phase: EntryPhase;
	debit_account: AccountCode;
	credit_account: AccountCode;
	amount: number;
	currency: "USD";
	status: TransferStatus;
	pending_id: string | null;
	reverses_id: string | null;
	/** The entry that posted, voided or expired this pending transfer. */
	resolved_by: string | null;
	/** The reversal of this transfer, if it was reversed. */
	reversed_by: string | null;
	reference: EntryReference;
	metadata: Record<string, string>;
	timestamp: string;
	expires_at: string | null;
	prev_hash: string;
	hash: string;
}

export interface BatchView {
	transfers: TransferView[];
	/** How many of the transfers this request created (the others existed already, with the same fields). */
	created: number;
}

export interface AccountView {
	code: AccountCode;
	number: number;
	name: string;
	class: AccountClass;
	normal_balance: NormalBalance;
	constraint: BalanceConstraint;
	debits_pending: number;
	debits_posted: number;
	credits_pending: number;
	credits_posted: number;
	/** Posted balance on the account's normal side. */
	balance: number;
	/** Balance less pending holds against it. */
	available: number;
}

export interface LedgerHead {
	/** The last entry's sequence (0 for an empty ledger). */
	sequence: number;
	/** The last entry's hash (64 zeros for an empty ledger). */
	hash: string;
	/** The last entry's timestamp, or null for an empty ledger. */
	timestamp: string | null;
	/** SHA-256 of the canonical balances (see balancesDigest). */
	balances_digest: string;
}

export interface ProjectionStatus {
	/** Entries recorded in the ledger and not yet in Postgres. */
	lag_entries: number;
	/** Age of the oldest entry not yet in Postgres (0 when it has caught up). */
	lag_ms: number;
	projected_sequence: number;
	last_projected_at: string | null;
	consecutive_failures: number;
	last_error: string | null;
	next_attempt_at: string | null;
}

export interface LedgerView {
	nation: string;
	currency: "USD";
	accounts: AccountView[];
	totals: { debits_posted: number; credits_posted: number; debits_pending: number; credits_pending: number };
	head: LedgerHead;
	projection: ProjectionStatus;
}

export interface EntriesQuery {
	/** First sequence to return (inclusive). */
	fromSeq?: number;
	/** Last sequence to return (inclusive). */
	toSeq?: number;
	kind?: TransferKind;
	phase?: EntryPhase;
	/** Entries that debit or credit this account. */
	account?: AccountCode;
	/** Entries at or after this time (ms since the epoch). */
	sinceMs?: number;
	/** Entries before this time (ms since the epoch). */
	untilMs?: number;
	/** At most this many entries (1-1000, default 100). */
	limit?: number;
}

export interface EntriesPage {
	entries: LedgerEntry[];
	/** Pass as fromSeq to read on; null when there is nothing more. */
	next_from_seq: number | null;
}
