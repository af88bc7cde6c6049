import { ledgerOf } from "../../../durable-objects/nation-ledger/client.ts";
import type { App } from "../../app.ts";
import { VoidInput } from "../../domain/ledger/transfer-input.ts";
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

export type VoidTransferResponse = TransferResponse;

export const route = defineRoute({
	method: "post",
	path: "/v1/nations/{code}/ledger/transfers/{id}/void",
	tags: ["ledger"],
	summary: "Void a pending transfer, releasing its hold",
	description:
		"Records a `void` entry (id `<pending id>~void`) that releases the hold. A pending transfer is posted, voided or expired exactly once: voiding one that was posted, voided or has expired is refused with 409. Requires an Idempotency-Key.",
	access: { permission: "ledger:write" },
	parameters: idempotencyParameters,
	request: {
		params: TransferIdParam,
		body: {
			required: false,
			content: { "application/json": { schema: VoidInput.openapi("LedgerVoidInput") } },
		},
	},
	responses: {
		201: {
			description: "The void entry",
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
		const result = await ledgerOf(c.env, nation).void(id, body, options);
		return writeResponse<VoidTransferResponse, 201>(c, result);
	});
