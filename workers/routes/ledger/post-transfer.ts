import { ledgerOf } from "../../../durable-objects/nation-ledger/client.ts";
import type { App } from "../../app.ts";
import { PostInput } from "../../domain/ledger/transfer-input.ts";
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

export type PostTransferResponse = TransferResponse;

export const route = defineRoute({
	method: "post",
	path: "/v1/nations/{code}/ledger/transfers/{id}/post",
	tags: ["ledger"],
	summary: "Post a pending transfer (all of it, or part: the rest of the hold is released)",
	description:
		"Records a `post` entry (id `<pending id>~post`) that turns the hold into a posted amount. A pending transfer is posted, voided or expired exactly once: posting one that was voided, posted or has expired is refused with 409. Requires an Idempotency-Key.",
	access: { permission: "ledger:write" },
	parameters: idempotencyParameters,
	request: {
		params: TransferIdParam,
		body: {
			required: false,
			content: { "application/json": { schema: PostInput.openapi("LedgerPostInput") } },
		},
	},
	responses: {
		201: {
			description: "The post entry",
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
		const result = await ledgerOf(c.env, nation).post(id, body, options);
		return writeResponse<PostTransferResponse, 201>(c, result);
	});
