/**
 * Why the ledger refused a write. Each reason has one HTTP problem code; the routes render a refusal as RFC 9457
 * problem+json with `reason` as an extension member. The names follow TigerBeetle's result codes where one
 * exists, so anyone who knows it reads them without a table.
 */
export const REFUSAL_REASONS = {
	invalid_input: "invalid_request",
	idempotency_key_reused: "idempotency_key_reused",
	nation_not_found: "not_found",
	transfer_not_found: "not_found",
	id_already_exists_with_different_fields: "conflict",
	id_used_twice_in_batch: "unprocessable",
	exceeds_credits: "unprocessable",
	exceeds_debits: "unprocessable",
	overflows_debits: "unprocessable",
	overflows_credits: "unprocessable",
	transfer_not_pending: "unprocessable",
	exceeds_pending_transfer_amount: "unprocessable",
	pending_transfer_already_posted: "conflict",
	pending_transfer_already_voided: "conflict",
	pending_transfer_expired: "conflict",
	cannot_reverse_reversal: "unprocessable",
	cannot_reverse_pending_transfer: "unprocessable",
	cannot_reverse_release: "unprocessable",
	transfer_already_reversed: "conflict",
	batch_refused: "unprocessable",
} as const;

export type RefusalReason = keyof typeof REFUSAL_REASONS;
export type RefusalCode = (typeof REFUSAL_REASONS)[RefusalReason];

export interface RefusalIssue {
	path: (string | number)[];
	message: string;
	code: string;
}

/** One refused item of a batch. */
export interface TransferError {
	index: number;
	id: string | null;
	reason: RefusalReason;
	detail: string;
}

export interface LedgerRefusal {
	code: RefusalCode;
	reason: RefusalReason;
	detail: string;
	/** Validation issues (for invalid_input). */
	errors?: RefusalIssue[];
	/** The refused items of a batch (for batch_refused). */
	transfer_errors?: TransferError[];
}

export function refusal(
	reason: RefusalReason,
	detail: string,
	extra: Partial<LedgerRefusal> = {},
): LedgerRefusal {
	return { code: REFUSAL_REASONS[reason], reason, detail, ...extra };
}
