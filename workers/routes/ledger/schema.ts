import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { LedgerWriteResult, WriteOptions } from "../../../durable-objects/nation-ledger/client.ts";
import { ACCOUNT_CODES, TRANSFER_KINDS } from "../../domain/ledger/accounts.ts";
import { ENTRY_PHASES, type LedgerEntry } from "../../domain/ledger/entry.ts";
import { type LedgerNation, nationByCode } from "../../domain/ledger/nations.ts";
import { IdempotencyKey } from "../../domain/ledger/transfer-input.ts";
import type { TransferView } from "../../domain/ledger/views.ts";
import type { AppEnv } from "../../lib/context.ts";
import { ApiError } from "../../lib/problem.ts";

/** Shared pieces of the ledger routes: the nation parameter, access, idempotency, and the response schemas. */

export const NationCodeParam = z.object({
	code: z.string().openapi({
		param: { name: "code", in: "path" },
		example: "KE",
		description: "ISO 3166-1 alpha-2 or alpha-3, any case",
	}),
});

export const TransferIdParam = NationCodeParam.extend({
	id: z
		.string()
		.max(128)
		.openapi({ param: { name: "id", in: "path" }, example: "contrib-2026-ke-001" }),
});

/**
 * The nation a ledger path names, after the object-level check: a principal scoped to another nation (or to
 * another region) gets a 404 for reads and writes alike, as if the ledger did not exist. Nations resolve from the
 * bundled reference data (workers/domain/ledger/nations.ts), not Postgres: no database round trip per write.
 */
export function ledgerNation(
	c: Context<AppEnv>,
	code: string,
	permission: "ledger:read" | "ledger:write",
): LedgerNation {
	const nation = nationByCode(code);
	if (!nation) throw new ApiError("not_found", `No nation has the code '${code}'`);
	c.var.principal.assert(
		permission,
		{ nation: nation.iso2, region: nation.serving_region },
		`nation ${nation.iso2}'s ledger`,
	);
	return nation;
}

/**
 * The Idempotency-Key header, as a plain OpenAPI parameter: documented, but not run through a zod header validator
 * (which would copy and parse every request header on the write path); `idempotencyKeyOf` checks it.
 */
export const idempotencyParameters = [
	{
		name: "Idempotency-Key",
		in: "header" as const,
		required: true,
		description:
			"1-255 visible ASCII characters, unique per intended write (a UUID is a good choice). A retry with the same key and body gets the first response again; the same key with another body is refused with 422. Keys are kept at least 24 hours, per caller: another principal's keys never match yours.",
		schema: {
			type: "string" as const,
			minLength: 1,
			maxLength: 255,
			example: "6f1c2b0e-5d1a-4b8e-9a51-0c2f3e4d5a6b",
		},
	},
];

/**
 * A ledger write's options: the request's Idempotency-Key, kept in the namespace of the principal that sent it
 * (two partners choosing the same key never meet).
 */
export function writeOptionsOf(c: Context<AppEnv>): WriteOptions {
	return { idempotencyKey: idempotencyKeyOf(c), caller: `${c.var.principal.kind}:${c.var.principal.id}` };
}

/** The request's Idempotency-Key: required on every ledger write (400 when missing or malformed). */
function idempotencyKeyOf(c: Context<AppEnv>): string {
	const key = c.req.header("idempotency-key");
	if (key === undefined || key === "") {
		throw new ApiError("invalid_request", "Ledger writes need an Idempotency-Key header (e.g. a UUID)", {
			errors: [{ path: ["Idempotency-Key"], message: "required", code: "invalid_type" }],
		});
	}
	const checked = IdempotencyKey.safeParse(key);
	if (!checked.success) {
		throw new ApiError("invalid_request", "The Idempotency-Key header is invalid", {
			errors: [
				{
					path: ["Idempotency-Key"],
					message: checked.error.issues[0]?.message ?? "invalid",
					code: "invalid_format",
				},
			],
		});
	}
	return key;
}

export const writeResponseHeaders = z.object({
	"idempotent-replayed": z.string().optional().openapi({
		description:
			"`true` when this is the stored response of an earlier request with the same Idempotency-Key",
	}),
});

/** Renders a ledger write: its response (first or replayed), or its refusal as problem+json. */
export function writeResponse<T, S extends 200 | 201>(c: Context<AppEnv>, result: LedgerWriteResult<T>) {
	if (!result.ok) {
		const { code, detail, reason, errors, transfer_errors } = result.refusal;
		throw new ApiError(code, detail, { errors, extensions: { reason, transfer_errors } });
	}
	if (result.replayed) c.header("idempotent-replayed", "true");
	c.header("cache-control", "no-store");
	return c.json(result.body, result.status as S);
}

const Cents = z.number().int().openapi({ description: "Integer USD cents", example: 125_000 });
const Hash = z
	.string()
	.regex(/^[0-9a-f]{64}$/)
	.openapi({ description: "Lower-case hex SHA-256" });

const ReferenceSchema = z.object({
	project_id: z.string().nullable(),
	distribution_id: z.string().nullable(),
	period: z.string().nullable(),
});

export const TransferSchema = z
	.object({
		id: z.string(),
		nation: z.string(),
		sequence: z
			.number()
			.int()
			.openapi({ description: "The entry's position in the nation's ledger (1, 2, 3 ...)" }),
		kind: z.enum(TRANSFER_KINDS),
		phase: z.enum(ENTRY_PHASES),
		debit_account: z.enum(ACCOUNT_CODES),
		credit_account: z.enum(ACCOUNT_CODES),
		amount: Cents,
		currency: z.literal("USD"),
		status: z.enum(["pending", "posted", "voided", "expired"]),
		pending_id: z.string().nullable(),
		reverses_id: z.string().nullable(),
		resolved_by: z
			.string()
			.nullable()
			.openapi({ description: "For a pending transfer: the entry that posted, voided or expired it" }),
		reversed_by: z.string().nullable(),
		reference: ReferenceSchema,
		metadata: z.record(z.string(), z.string()),
		timestamp: z.string().openapi({ format: "date-time" }),
		expires_at: z.string().nullable().openapi({ format: "date-time" }),
		prev_hash: Hash,
		hash: Hash,
	})
	.openapi("LedgerTransfer") satisfies z.ZodType<TransferView>;
export type TransferResponse = z.infer<typeof TransferSchema>;

export const EntrySchema = z
	.object({
		nation: z.string(),
		sequence: z.number().int(),
		id: z.string(),
		kind: z.enum(TRANSFER_KINDS),
		phase: z.enum(ENTRY_PHASES),
		debit_account: z.enum(ACCOUNT_CODES),
		credit_account: z.enum(ACCOUNT_CODES),
		amount: Cents,
		pending_id: z.string().nullable(),
		reverses_id: z.string().nullable(),
		reference: ReferenceSchema,
		metadata: z.record(z.string(), z.string()),
		timestamp_ms: z.number().int().openapi({ description: "Milliseconds since the epoch, as hashed" }),
		expires_at_ms: z.number().int().nullable(),
		prev_hash: Hash,
		hash: Hash,
	})
	.openapi("LedgerEntry", {
		description:
			"An immutable, hash-chained ledger entry exactly as hashed (see docs/ledger.md for the encoding)",
	}) satisfies z.ZodType<LedgerEntry>;

export const BatchSchema = z
	.object({
		transfers: z.array(TransferSchema),
		created: z.number().int().openapi({
			description: "How many transfers this request created; the others already existed with the same fields",
		}),
	})
	.openapi("LedgerBatch");
export type BatchResponse = z.infer<typeof BatchSchema>;

export const TransferErrorSchema = z.object({
	index: z.number().int(),
	id: z.string().nullable(),
	reason: z.string(),
	detail: z.string(),
});
