import { z } from "@hono/zod-openapi";
import { and, desc, eq, isNotNull, isNull, or, type SQL, sql } from "drizzle-orm";
import type { App } from "../../../app.ts";
import {
	DEFAULT_PAGE_SIZE,
	decodeCursor,
	fingerprint,
	MAX_PAGE_SIZE,
	splitTimeKey,
	toPage,
} from "../../../db/queries/pagination.ts";
import { deadLetters } from "../../../db/schema/dead-letters.ts";
import { problemResponses } from "../../../lib/problem.ts";
import { defineRoute } from "../../../lib/route.ts";
import { DeadLetterSchema, presentDeadLetter } from "./schema.ts";

export const ListDeadLettersQuery = z
	.object({
		consumer: z.string().min(1).max(64).optional().openapi({ example: "audit" }),
		event_id: z.string().min(1).max(200).optional(),
		status: z
			.enum(["pending", "redriven"])
			.optional()
			.openapi({ description: "`pending`: never re-driven; `redriven`: sent back at least once" }),
		cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
	})
	.strict();

export const DeadLetterPageSchema = z
	.object({
		data: z.array(DeadLetterSchema),
		next_cursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next page; null on the last" }),
	})
	.openapi("DeadLetterPage");
export type DeadLetterPageResponse = z.infer<typeof DeadLetterPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/admin/dead-letters",
	tags: ["admin"],
	summary: "Messages that exhausted their retries, newest first, with the consumer's last error",
	access: { permission: "admin:read" },
	request: { query: ListDeadLettersQuery },
	responses: {
		200: {
			description: "A page of dead letters",
			content: { "application/json": { schema: DeadLetterPageSchema } },
		},
		...problemResponses(400, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { cursor, limit, ...filters } = c.req.valid("query");
		const print = fingerprint(JSON.stringify(Object.entries(filters).sort()));
		const after = decodeCursor(cursor, print);
		const conditions: (SQL | undefined)[] = [];
		if (filters.consumer) conditions.push(eq(deadLetters.consumer, filters.consumer));
		if (filters.event_id) conditions.push(eq(deadLetters.eventId, filters.event_id));
		if (filters.status === "pending") conditions.push(isNull(deadLetters.redrivenAt));
		if (filters.status === "redriven") conditions.push(isNotNull(deadLetters.redrivenAt));
		if (after !== undefined) {
			const [at, id] = splitTimeKey(after);
			conditions.push(
				or(
					sql`${deadLetters.deadLetteredAt} < ${at}::timestamptz`,
					and(sql`${deadLetters.deadLetteredAt} = ${at}::timestamptz`, sql`${deadLetters.id} < ${id}::uuid`),
				),
			);
		}
		const rows = await c.var
			.db()
			.select()
			.from(deadLetters)
			.where(and(...conditions))
			.orderBy(desc(deadLetters.deadLetteredAt), desc(deadLetters.id))
			.limit(limit + 1);
		const page = toPage(
			rows,
			limit,
			(row) => `${row.deadLetteredAt.toISOString()}|${row.id}`,
			presentDeadLetter,
			print,
		);
		return c.json(page, 200, { "cache-control": "no-store" });
	});
