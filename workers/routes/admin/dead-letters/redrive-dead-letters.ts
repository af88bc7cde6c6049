import { z } from "@hono/zod-openapi";
import { and, asc, eq, inArray, isNull } from "drizzle-orm";
import type { App } from "../../../app.ts";
import { deadLetters } from "../../../db/schema/dead-letters.ts";
import { problemResponses } from "../../../lib/problem.ts";
import { defineRoute } from "../../../lib/route.ts";
import { redrive } from "./schema.ts";

export const MAX_REDRIVE = 500;

export const RedriveDeadLettersBody = z
	.object({
		consumer: z.string().min(1).max(64).optional().openapi({ example: "analytics" }),
		ids: z.array(z.string().uuid()).min(1).max(MAX_REDRIVE).optional(),
		include_redriven: z
			.boolean()
			.default(false)
			.openapi({ description: "Also re-drive dead letters that were re-driven before (and died again)" }),
		limit: z.number().int().min(1).max(MAX_REDRIVE).default(100),
	})
	.strict()
	.refine((body) => body.consumer !== undefined || body.ids !== undefined, {
		message: "Name a consumer or the ids to re-drive",
	})
	.openapi("RedriveDeadLetters");
export type RedriveDeadLettersRequest = z.input<typeof RedriveDeadLettersBody>;

export const RedriveResultSchema = z
	.object({
		redriven: z.array(z.string().uuid()),
		refused: z.array(z.object({ id: z.string().uuid(), reason: z.string() })),
	})
	.openapi("RedriveResult");
export type RedriveResultResponse = z.infer<typeof RedriveResultSchema>;

export const route = defineRoute({
	method: "post",
	path: "/v1/admin/dead-letters/redrive",
	tags: ["admin"],
	summary: "Send many dead-lettered events back to their queues (by consumer and/or ids), oldest first",
	description:
		"By default only dead letters never re-driven are taken; at most `limit` per call. Safe to repeat (consumers apply each event once).",
	access: { permission: "admin:write" },
	cost: 5,
	request: { body: { required: true, content: { "application/json": { schema: RedriveDeadLettersBody } } } },
	responses: {
		202: {
			description: "What was sent back, and what was refused",
			content: { "application/json": { schema: RedriveResultSchema } },
		},
		...problemResponses(400, 406, 413, 415, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const body = c.req.valid("json");
		const db = c.var.db();
		const rows = await db
			.select({ id: deadLetters.id, redrivenAt: deadLetters.redrivenAt })
			.from(deadLetters)
			.where(
				and(
					body.consumer ? eq(deadLetters.consumer, body.consumer) : undefined,
					body.ids ? inArray(deadLetters.id, body.ids) : undefined,
					body.include_redriven || body.ids ? undefined : isNull(deadLetters.redrivenAt),
				),
			)
			.orderBy(asc(deadLetters.deadLetteredAt), asc(deadLetters.id))
			.limit(body.limit);
		const refused: RedriveResultResponse["refused"] = [];
		const candidates: string[] = [];
		for (const row of rows) {
			if (row.redrivenAt && !body.include_redriven) {
				refused.push({ id: row.id, reason: "already re-driven; set include_redriven to send it again" });
			} else candidates.push(row.id);
		}
		// Named ids that are not dead letters (of this consumer) are reported, not ignored.
		const found = new Set(rows.map((r) => r.id));
		for (const id of body.ids ?? []) {
			if (!found.has(id)) refused.push({ id, reason: "no such dead letter" });
		}
		const result = await redrive(c.env, db, candidates);
		const response: RedriveResultResponse = {
			redriven: result.redriven.map((r) => r.id),
			refused: [
				...refused,
				...result.refused,
				...result.busy.map((id) => ({ id, reason: "being re-driven by another request" })),
			],
		};
		return c.json(response, 202);
	});
