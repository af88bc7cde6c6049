// zod with the OpenAPI extension loaded first: zod 4 gives each schema its methods when it is created, so schemas
// made before the extension lacked `.openapi()` for the routes (and other modules) that document them. The
// package is pure JavaScript, so the module stays usable outside the worker (a verifier, a script).
import { z } from "@hono/zod-openapi";
import {
	ACCOUNT_CODES,
	CREATABLE_KINDS,
	type CreatableKind,
	describeAllowedPairs,
	isPairAllowed,
} from "./accounts.ts";

/**
 * The inputs of every ledger write, as zod schemas. The HTTP routes validate request bodies with them (a
 * failure is a 400 problem naming the field), and the Durable Object validates every RPC call with the same
 * schemas, so a caller that bypasses HTTP (a saga, a scheduled job) is held to the same rules.
 */

/** The largest number of transfers one batch may carry. */
export const MAX_BATCH_TRANSFERS = 1_000;
/** The longest a pending transfer may hold its amount before it voids itself: 30 days. */
export const MAX_PENDING_TIMEOUT_SECONDS = 30 * 24 * 60 * 60;
export const MAX_METADATA_KEYS = 50;
export const MAX_METADATA_VALUE_LENGTH = 500;

/**
 * A client transfer id: 1 to 100 characters of letters, digits and `._:-`, starting with a letter or digit. The
 * ledger derives the ids of second phases and reversals by appending `~post`, `~void`, `~expire` or
 * `~reversal`, which no client id can contain, so derived ids never collide with chosen ones.
 */
export const TransferId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, {
	error: "expected 1-100 characters of letters, digits and . _ : -, starting with a letter or digit",
});

/** Any transfer id the ledger may hold, including derived ones (for lookups). */
export const AnyTransferId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$/, {
	error: "expected a transfer id",
});

/** Integer USD cents, 1 to 2^53 − 1. */
export const PositiveCents = z
	.int({
		error: (issue) => {
			if (typeof issue.input !== "number") return "expected a JSON integer number of USD cents";
			if (!Number.isInteger(issue.input)) return "expected a whole number of cents (no fractions of a cent)";
			return "expected at most 2^53 − 1 cents";
		},
	})
	.min(1, { error: "expected a positive number of cents (at least 1)" })
	.max(Number.MAX_SAFE_INTEGER, { error: "expected at most 2^53 − 1 cents" });

export const Reference = z
	.strictObject({
		project_id: z.uuid({ error: "expected a project id (UUID)" }).optional(),
		distribution_id: z
			.string()
			.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, { error: "expected a distribution id" })
			.optional(),
		period: z
			.string()
			.regex(/^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$/, { error: "expected a period: YYYY, YYYY-Qn or YYYY-MM" })
			.optional(),
	})
	.describe("What the money concerns: a project, a distribution, an accounting period");

export const Metadata = z
	.record(
		z
			.string()
			.regex(/^[A-Za-z0-9_.-]{1,40}$/, { error: "metadata keys are 1-40 characters of A-Z a-z 0-9 _ . -" }),
		z.string().max(MAX_METADATA_VALUE_LENGTH, {
			error: `metadata values are at most ${MAX_METADATA_VALUE_LENGTH} characters`,
		}),
	)
	.refine((m) => Object.keys(m).length <= MAX_METADATA_KEYS, {
		error: `at most ${MAX_METADATA_KEYS} metadata keys`,
	})
	.describe("Free-form string key/value pairs, kept with the entry and covered by its hash");

const TransferFields = z.strictObject({
	id: TransferId.optional().describe(
		"Your id for the transfer. Creating the same id again with the same fields returns the existing transfer; with other fields it is refused. Assigned by the ledger when absent.",
	),
	kind: z.enum(CREATABLE_KINDS),
	debit_account: z.enum(ACCOUNT_CODES),
	credit_account: z.enum(ACCOUNT_CODES),
	amount: PositiveCents,
	currency: z.literal("USD", { error: "the ledger keeps USD only" }).optional(),
	reference: Reference.optional(),
	metadata: Metadata.optional(),
	pending: z
		.boolean()
		.optional()
		.describe("Create a pending transfer: the amount is held against the constraints until posted or voided"),
	timeout_seconds: z
		.int()
		.min(1)
		.max(MAX_PENDING_TIMEOUT_SECONDS)
		.optional()
		.describe("For a pending transfer: void it automatically after this many seconds"),
});

/** One transfer to create. */
export const TransferInput = TransferFields.superRefine((t, ctx) => {
	if (t.debit_account === t.credit_account) {
		ctx.addIssue({
			code: "custom",
			path: ["credit_account"],
			message: "debit_account and credit_account must be different accounts",
		});
	} else if (!isPairAllowed(t.kind, t.debit_account, t.credit_account)) {
		ctx.addIssue({
			code: "custom",
			path: ["credit_account"],
			message: `a ${t.kind} cannot move money from ${t.credit_account} to ${t.debit_account}; allowed (debit <- credit): ${describeAllowedPairs(t.kind as CreatableKind)}`,
		});
	}
	if (t.timeout_seconds !== undefined && t.pending !== true) {
		ctx.addIssue({
			code: "custom",
			path: ["timeout_seconds"],
			message: "timeout_seconds applies to pending transfers only (set pending: true)",
		});
	}
});
export type TransferInput = z.infer<typeof TransferInput>;

/** Several transfers applied in order, all or none. */
export const BatchInput = z.strictObject({
	transfers: z
		.array(TransferInput)
		.min(1, { error: "a batch carries at least one transfer" })
		.max(MAX_BATCH_TRANSFERS, { error: `a batch carries at most ${MAX_BATCH_TRANSFERS} transfers` }),
});
export type BatchInput = z.infer<typeof BatchInput>;

/** Posting a pending transfer: all of its amount, or part of it (the rest of the hold is released). */
export const PostInput = z.strictObject({
	amount: PositiveCents.optional().describe("How much of the held amount to post; all of it when absent"),
	metadata: Metadata.optional(),
});
export type PostInput = z.infer<typeof PostInput>;

export const VoidInput = z.strictObject({ metadata: Metadata.optional() });
export type VoidInput = z.infer<typeof VoidInput>;

export const ReverseInput = z.strictObject({
	metadata: Metadata.optional().describe("Why the transfer is reversed, for the record"),
});
export type ReverseInput = z.infer<typeof ReverseInput>;

/** Idempotency keys: 1 to 255 visible ASCII characters. */
export const IdempotencyKey = z
	.string()
	.regex(/^[\x21-\x7e]{1,255}$/, { error: "expected 1-255 visible ASCII characters" });
