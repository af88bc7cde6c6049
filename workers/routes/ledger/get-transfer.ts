import { ledgerOf } from "../../../durable-objects/nation-ledger/client.ts";
import type { App } from "../../app.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { ledgerNation, TransferIdParam, type TransferResponse, TransferSchema } from "./schema.ts";

export type GetTransferResponse = TransferResponse;

export const route = defineRoute({
	method: "get",
	path: "/v1/nations/{code}/ledger/transfers/{id}",
	tags: ["ledger"],
	summary: "One transfer (or second phase, or reversal) with its current status",
	access: { permission: "ledger:read" },
	request: { params: TransferIdParam },
	responses: {
		200: { description: "The transfer", content: { "application/json": { schema: TransferSchema } } },
		...problemResponses(404),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { code, id } = c.req.valid("param");
		const nation = ledgerNation(c, code, "ledger:read");
		const transfer = await ledgerOf(c.env, nation).getTransfer(id);
		if (!transfer) throw new ApiError("not_found", `No transfer ${id} in ${nation.iso2}'s ledger`);
		c.header("cache-control", "no-store");
		return c.json<GetTransferResponse, 200>(transfer, 200);
	});
