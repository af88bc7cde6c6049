import { z } from "@hono/zod-openapi";
import { verifyChain } from "../../../queues/consumers/audit-chain.ts";
import type { App } from "../../app.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";

/** Every row is decoded, re-encoded and hashed: a call walks a bounded slice so it stays within the CPU limit. */
export const MAX_VERIFY_ROWS = 10_000;
export const DEFAULT_VERIFY_ROWS = 1000;

export const VerifyAuditQuery = z
	.object({
		from_seq: z.coerce
			.number()
			.int()
			.min(1)
			.default(1)
			.openapi({ description: "First row to check; its link to the row before is taken as stored" }),
		limit: z.coerce
			.number()
			.int()
			.min(1)
			.max(MAX_VERIFY_ROWS)
			.default(DEFAULT_VERIFY_ROWS)
			.openapi({ description: "Rows to check in this call; continue from `next_from_seq`" }),
	})
	.strict();

const ChainBreakSchema = z.object({
	seq: z.number().int(),
	reason: z.enum(["sequence_gap", "prev_hash_mismatch", "hash_mismatch", "head_mismatch"]),
	expected: z.string(),
	found: z.string(),
});

export const AuditVerificationSchema = z
	.object({
		ok: z.boolean().openapi({ description: "False when a broken link was found" }),
		checked: z.number().int(),
		from_seq: z.number().int(),
		to_seq: z.number().int().openapi({ description: "The last row checked" }),
		complete: z.boolean().openapi({ description: "True when the walk reached the chain head" }),
		next_from_seq: z.number().int().nullable(),
		head: z.object({ seq: z.number().int(), hash: z.string() }),
		first_broken: ChainBreakSchema.nullable().openapi({
			description:
				"The first broken link: sequence_gap (a row missing or reordered), prev_hash_mismatch (a row not linked to its predecessor), hash_mismatch (a row edited), head_mismatch (rows removed at the end)",
		}),
	})
	.openapi("AuditVerification");
export type AuditVerificationResponse = z.infer<typeof AuditVerificationSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/audit/verify",
	tags: ["audit"],
	summary: "Walk the audit hash chain and report the first broken link",
	description:
		"Recomputes every row's hash from its content and its predecessor's hash (docs/events.md gives the canonical encoding). Answers 200 either way: `ok` says whether the chain is intact. Long chains are walked in slices of `limit` rows. Needs `audit:read` without a nation, sector or region restriction.",
	access: { permission: "audit:read" },
	cost: 10,
	request: { query: VerifyAuditQuery },
	responses: {
		200: {
			description: "The verification result",
			content: { "application/json": { schema: AuditVerificationSchema } },
		},
		...problemResponses(400, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		if (!c.var.principal.visibility("audit:read").all) {
			throw new ApiError("forbidden", "Verifying the chain needs audit:read for everything, not for a scope");
		}
		const { from_seq, limit } = c.req.valid("query");
		const result = await verifyChain(c.var.db(), { fromSeq: from_seq, limit });
		return c.json(result satisfies AuditVerificationResponse, 200, { "cache-control": "no-store" });
	});
