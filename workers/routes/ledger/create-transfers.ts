import { z } from "@hono/zod-openapi";
import { ledgerOf } from "../../../durable-objects/nation-ledger/client.ts";
import type { App } from "../../app.ts";
import { BatchInput, MAX_BATCH_TRANSFERS, TransferInput } from "../../domain/ledger/transfer-input.ts";
import { ApiError, type ProblemIssue, problemResponses, zodIssues } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import {
	BatchSchema,
	idempotencyParameters,
	ledgerNation,
	NationCodeParam,
	TransferSchema,
	writeOptionsOf,
	writeResponse,
	writeResponseHeaders,
} from "./schema.ts";

export const CreateTransfersBody = z.union([
	TransferInput.openapi("LedgerTransferInput"),
	BatchInput.openapi("LedgerBatchInput"),
]);
export type CreateTransfersResponse = z.infer<typeof TransferSchema> | z.infer<typeof BatchSchema>;

export const route = defineRoute({
	method: "post",
	path: "/v1/nations/{code}/ledger/transfers",
	tags: ["ledger"],
	summary: "Record a transfer, or a batch of transfers applied all or none",
	description: `One transfer (an object), or up to ${MAX_BATCH_TRANSFERS} in order as \`{"transfers": [...]}\`, applied atomically: when any is refused, none is applied and \`transfer_errors\` lists every refused item. A transfer debits one account and credits another by a positive integer amount of USD cents; the pair must be one its kind allows, and no constrained account may leave its bound. With \`pending: true\` the amount is only held, until posted, voided, or its \`timeout_seconds\` pass. Requires an Idempotency-Key.`,
	access: { permission: "ledger:write" },
	parameters: idempotencyParameters,
	request: {
		params: NationCodeParam,
		body: { required: true, content: { "application/json": { schema: CreateTransfersBody } } },
	},
	responses: {
		201: {
			description: "Recorded: the transfer, or the batch's transfers",
			headers: writeResponseHeaders,
			content: { "application/json": { schema: z.union([TransferSchema, BatchSchema]) } },
		},
		200: {
			description: "Nothing new: every transfer already existed with the same id and fields",
			headers: writeResponseHeaders,
			content: { "application/json": { schema: z.union([TransferSchema, BatchSchema]) } },
		},
		...problemResponses(400, 404, 409, 415, 422),
	},
});

/**
 * A body that matches neither shape fails as "invalid_union" with each shape's issues. The body was meant as a
 * batch when it has `transfers`; report that shape's issues, so the problem names the exact field (e.g.
 * `transfers.3.amount`) instead of "matches neither".
 */
function validationProblem(error: z.ZodError): ApiError {
	const union = error.issues.find((issue) => issue.code === "invalid_union" && issue.path.length === 0);
	let errors: ProblemIssue[] = zodIssues(error);
	if (union && union.code === "invalid_union") {
		const [asTransfer = [], asBatch = []] = union.errors;
		const notABatch = asBatch.some(
			(issue) => issue.path[0] === "transfers" && issue.code === "invalid_type" && issue.path.length === 1,
		);
		errors = (notABatch ? asTransfer : asBatch).map((issue) => ({
			path: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
			message: issue.message,
			code: issue.code,
		}));
	}
	return new ApiError("invalid_request", "The request did not match the schema; see errors", { errors });
}

export const register = (app: App) =>
	app.openapi(
		route,
		async (c) => {
			const nation = ledgerNation(c, c.req.valid("param").code, "ledger:write");
			const options = writeOptionsOf(c);
			const body = c.req.valid("json");
			const ledger = ledgerOf(c.env, nation);
			const result =
				"transfers" in body
					? await ledger.batch(body.transfers, options)
					: await ledger.transfer(body, options);
			return writeResponse<CreateTransfersResponse, 200 | 201>(c, result);
		},
		(result) => {
			if (!result.success) throw validationProblem(result.error);
			return undefined;
		},
	);
