import { z } from "@hono/zod-openapi";
import { and, desc, eq, ilike, inArray, or, type SQL, sql } from "drizzle-orm";
import type { App } from "../../app.ts";
import {
	DEFAULT_PAGE_SIZE,
	decodeCursor,
	fingerprint,
	MAX_PAGE_SIZE,
	splitTimeKey,
	toPage,
} from "../../db/queries/pagination.ts";
import { users } from "../../db/schema/users.ts";
import { SERVING_REGIONS } from "../../domain/serving-regions.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { presentUser, UserSchema } from "../me/schema.ts";

export const ListUsersQuery = z
	.object({
		home_region: z.enum(SERVING_REGIONS).optional(),
		q: z
			.string()
			.trim()
			.min(1)
			.max(200)
			.optional()
			.openapi({ description: "Case-insensitive substring of email, name or display name" }),
		sub: z.string().min(1).max(255).optional().openapi({ description: "Exact identity provider subject" }),
		created_after: z.iso.datetime({ offset: true }).optional(),
		created_before: z.iso.datetime({ offset: true }).optional(),
		cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
	})
	.strict();

export const UserPageSchema = z
	.object({
		data: z.array(UserSchema),
		next_cursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next page; null on the last" }),
	})
	.openapi("UserPage");
export type UserPageResponse = z.infer<typeof UserPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/users",
	tags: ["users"],
	summary: "List people (admin), newest first, filtered",
	description:
		"Needs `users:read` (admins). A principal holding it only for some regions sees the people whose home region is one of them.",
	access: { permission: "users:read" },
	cost: 2,
	request: { query: ListUsersQuery },
	responses: {
		200: { description: "A page of people", content: { "application/json": { schema: UserPageSchema } } },
		...problemResponses(400, 406),
	},
});

/** `%` and `_` in a search are literal characters, not patterns. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { cursor, limit, ...filters } = c.req.valid("query");
		const print = fingerprint(JSON.stringify(Object.entries(filters).sort()));
		const after = decodeCursor(cursor, print);
		const visibility = c.var.principal.visibility("users:read");
		const conditions: (SQL | undefined)[] = [];
		if (!visibility.all)
			conditions.push(inArray(users.homeRegion, visibility.regions.length ? visibility.regions : [""]));
		if (filters.home_region) conditions.push(eq(users.homeRegion, filters.home_region));
		if (filters.sub) conditions.push(eq(users.sub, filters.sub));
		if (filters.q) {
			const pattern = `%${escapeLike(filters.q)}%`;
			conditions.push(
				or(ilike(users.email, pattern), ilike(users.name, pattern), ilike(users.displayName, pattern)),
			);
		}
		if (filters.created_after)
			conditions.push(sql`${users.createdAt} > ${filters.created_after}::timestamptz`);
		if (filters.created_before)
			conditions.push(sql`${users.createdAt} < ${filters.created_before}::timestamptz`);
		if (after !== undefined) {
			const [createdAt, id] = splitTimeKey(after);
			conditions.push(
				or(
					sql`${users.createdAt} < ${createdAt}::timestamptz`,
					and(sql`${users.createdAt} = ${createdAt}::timestamptz`, sql`${users.id} < ${id}::uuid`),
				),
			);
		}
		const rows = await c.var
			.db()
			.select()
			.from(users)
			.where(and(...conditions))
			.orderBy(desc(users.createdAt), desc(users.id))
			.limit(limit + 1);
		const page = toPage(rows, limit, (row) => `${row.createdAt.toISOString()}|${row.id}`, presentUser, print);
		return c.json(page, 200, { "cache-control": "no-store" });
	});
