import { ledgerOf } from "../../../durable-objects/nation-ledger/client.ts";
import type { App } from "../../app.ts";
import { ReverseInput } from "../../domain/ledger/transfer-input.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import {
	idempotencyParameters,
	ledgerNation,
	TransferIdParam,
	type TransferResponse,
	TransferSchema,
	writeOptionsOf,
	writeResponse,
	writeResponseHeaders,
} from "./schema.ts";

export type ReverseTransferResponse = TransferResponse;

export const route = defineRoute({
	method: "post",
	path: "/v1/nations/{code}/ledger/transfers/{id}/reverse",
	tags: ["ledger"],
	summary: "Reverse a posted transfer",
	description:
		"Entries are never edited or deleted: a correction is a `reversal` transfer (id `<id>~reversal`) of the same amount between the same accounts in the other direction, subject to the same balance constraints. A transfer is reversed at most once; a reversal, a pending transfer (void it instead) and a void or expiry cannot be reversed. Requires an Idempotency-Key.",
	access: { permission: "ledger:write" },
	parameters: idempotencyParameters,
	request: {
		params: TransferIdParam,
		body: {
			required: false,
			content: { "application/json": { schema: ReverseInput.openapi("LedgerReverseInput") } },
		},
	},
	responses: {
		201: {
			description: "The reversal",
			headers: writeResponseHeaders,
			content: { "application/json": { schema: TransferSchema } },
		},
		...problemResponses(400, 404, 409, 415, 422),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { code, id } = c.req.valid("param");
		const nation = ledgerNation(c, code, "ledger:write");
		const options = writeOptionsOf(c);
		const body = c.req.valid("json") ?? {};
		const result = await ledgerOf(c.env, nation).reverse(id, body, options);
		return writeResponse<ReverseTransferResponse, 201>(c, result);
	});
