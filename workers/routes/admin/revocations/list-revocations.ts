import { z } from "@hono/zod-openapi";
import { and, desc, eq, or, type SQL, sql } from "drizzle-orm";
import type { App } from "../../../app.ts";
import {
	DEFAULT_PAGE_SIZE,
	decodeCursor,
	fingerprint,
	MAX_PAGE_SIZE,
	splitTimeKey,
	toPage,
} from "../../../db/queries/pagination.ts";
import { revocations } from "../../../db/schema/revocations.ts";
import { problemResponses } from "../../../lib/problem.ts";
import { defineRoute } from "../../../lib/route.ts";
import { presentRevocation, RevocationSchema } from "./schema.ts";

export const ListRevocationsQuery = z
	.object({
		kind: z.enum(["jti", "sub"]).optional(),
		value: z.string().min(1).max(255).optional().openapi({ description: "Exact token id or subject" }),
		cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
	})
	.strict();

export const RevocationPageSchema = z
	.object({
		data: z.array(RevocationSchema),
		next_cursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next page; null on the last" }),
	})
	.openapi("RevocationPage");
export type RevocationPageResponse = z.infer<typeof RevocationPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/admin/revocations",
	tags: ["admin"],
	summary: "Revocations in force (not yet expired), newest first",
	access: { permission: "admin:read" },
	request: { query: ListRevocationsQuery },
	responses: {
		200: {
			description: "A page of revocations",
			content: { "application/json": { schema: RevocationPageSchema } },
		},
		...problemResponses(400, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { cursor, limit, ...filters } = c.req.valid("query");
		const print = fingerprint(JSON.stringify({ kind: filters.kind ?? null, value: filters.value ?? null }));
		const after = decodeCursor(cursor, print);
		const conditions: (SQL | undefined)[] = [sql`${revocations.expiresAt} > now()`];
		if (filters.kind) conditions.push(eq(revocations.kind, filters.kind));
		if (filters.value) conditions.push(eq(revocations.value, filters.value));
		if (after !== undefined) {
			const [createdAt, id] = splitTimeKey(after);
			conditions.push(
				or(
					sql`${revocations.createdAt} < ${createdAt}::timestamptz`,
					and(
						sql`${revocations.createdAt} = ${createdAt}::timestamptz`,
						sql`${revocations.id} < ${id}::uuid`,
					),
				),
			);
		}
		const rows = await c.var
			.db()
			.select()
			.from(revocations)
			.where(and(...conditions))
			.orderBy(desc(revocations.createdAt), desc(revocations.id))
			.limit(limit + 1);
		const page = toPage(
			rows,
			limit,
			(row) => `${row.createdAt.toISOString()}|${row.id}`,
			presentRevocation,
			print,
		);
		return c.json(page, 200, { "cache-control": "no-store" });
	});
