import { z } from "@hono/zod-openapi";
import { ledgerOf } from "../../../durable-objects/nation-ledger/client.ts";
import type { App } from "../../app.ts";
import { ACCOUNT_CODES, TRANSFER_KINDS } from "../../domain/ledger/accounts.ts";
import { ENTRY_PHASES } from "../../domain/ledger/entry.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { EntrySchema, ledgerNation, NationCodeParam } from "./schema.ts";

const MAX_PAGE = 500;
const Sequence = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export const ListEntriesQuery = z
	.object({
		kind: z.enum(TRANSFER_KINDS).optional(),
		phase: z.enum(ENTRY_PHASES).optional(),
		account: z
			.enum(ACCOUNT_CODES)
			.optional()
			.openapi({ description: "Entries that debit or credit this account" }),
		since: z.iso
			.datetime({ offset: true })
			.optional()
			.openapi({ description: "Entries at or after this time" }),
		until: z.iso.datetime({ offset: true }).optional().openapi({ description: "Entries before this time" }),
		from_sequence: Sequence.optional().openapi({ description: "First sequence (inclusive)" }),
		to_sequence: Sequence.optional().openapi({ description: "Last sequence (inclusive)" }),
		// The covenant-fund issue's names for the same range (the verifier's `?from_seq=&to_seq=`, docs/fund.md).
		from_seq: Sequence.optional().openapi({ description: "Alias of from_sequence" }),
		to_seq: Sequence.optional().openapi({ description: "Alias of to_sequence" }),
		cursor: z
			.string()
			.max(64)
			.optional()
			.openapi({ description: "next_cursor of the previous page (send the same filters)" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
	})
	.strict();

export const EntryPageSchema = z
	.object({
		data: z.array(EntrySchema.extend({ timestamp: z.string().openapi({ format: "date-time" }) })),
		next_cursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next page; null on the last" }),
	})
	.openapi("LedgerEntryPage");
export type ListEntriesResponse = z.infer<typeof EntryPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/nations/{code}/ledger/entries",
	tags: ["ledger"],
	summary: "A nation's ledger entries in sequence order, filtered",
	description:
		"Every entry exactly as hashed (integers, `timestamp_ms`), plus an ISO `timestamp` for people: a client can recompute each hash and follow `prev_hash` back to the genesis (docs/ledger.md). Keyset-paginated by sequence.",
	access: { permission: "ledger:read" },
	request: { params: NationCodeParam, query: ListEntriesQuery },
	responses: {
		200: { description: "A page of entries", content: { "application/json": { schema: EntryPageSchema } } },
		...problemResponses(400, 404),
	},
});

const CURSOR_PREFIX = "seq.";

function decodeCursor(cursor: string): number {
	const sequence = cursor.startsWith(CURSOR_PREFIX) ? Number(cursor.slice(CURSOR_PREFIX.length)) : Number.NaN;
	if (!Number.isSafeInteger(sequence) || sequence < 1) {
		throw new ApiError("invalid_request", "The cursor is not one this API issued", {
			errors: [{ path: ["cursor"], message: "unknown cursor", code: "invalid_format" }],
		});
	}
	return sequence;
}

/** The narrower of the two spellings of the range's end, when either is given. */
function lastSequence(...bounds: (number | undefined)[]): number | undefined {
	const given = bounds.filter((b) => b !== undefined);
	return given.length === 0 ? undefined : Math.min(...given);
}

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const nation = ledgerNation(c, c.req.valid("param").code, "ledger:read");
		const query = c.req.valid("query");
		const fromCursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
		const page = await ledgerOf(c.env, nation).entries({
			fromSeq: Math.max(fromCursor ?? 1, query.from_sequence ?? 1, query.from_seq ?? 1),
			toSeq: lastSequence(query.to_sequence, query.to_seq),
			kind: query.kind,
			phase: query.phase,
			account: query.account,
			sinceMs: query.since === undefined ? undefined : Date.parse(query.since),
			untilMs: query.until === undefined ? undefined : Date.parse(query.until),
			limit: query.limit,
		});
		c.header("cache-control", "no-store");
		return c.json<ListEntriesResponse, 200>(
			{
				data: page.entries.map((entry) => ({
					...entry,
					timestamp: new Date(entry.timestamp_ms).toISOString(),
				})),
				next_cursor: page.next_from_seq === null ? null : `${CURSOR_PREFIX}${page.next_from_seq}`,
			},
			200,
		);
	});
