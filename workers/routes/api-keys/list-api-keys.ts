import { z } from "@hono/zod-openapi";
import { and, desc, eq, gt, isNotNull, isNull, lte, or, type SQL, sql } from "drizzle-orm";
import type { App } from "../../app.ts";
import {
	DEFAULT_PAGE_SIZE,
	decodeCursor,
	fingerprint,
	MAX_PAGE_SIZE,
	splitTimeKey,
	toPage,
} from "../../db/queries/pagination.ts";
import { apiKeys } from "../../db/schema/api-keys.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { ApiKeySchema, ownerFilter, personal, presentApiKey } from "./schema.ts";

export const ListApiKeysQuery = z
	.object({
		owner: z
			.string()
			.min(1)
			.max(255)
			.optional()
			.openapi({ description: "Admins only: the keys of this `sub`", ...personal }),
		status: z.enum(["active", "revoked", "expired"]).optional(),
		cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
	})
	.strict();

export const ApiKeyPageSchema = z
	.object({
		data: z.array(ApiKeySchema),
		next_cursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next page; null on the last" }),
	})
	.openapi("ApiKeyPage");
export type ApiKeyPageResponse = z.infer<typeof ApiKeyPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/api-keys",
	tags: ["api-keys"],
	summary: "List API keys, newest first (never their secrets)",
	description: "A partner sees only its own keys; an admin sees everyone's and may filter by owner.",
	access: { permission: "api_keys:read" },
	request: { query: ListApiKeysQuery },
	responses: {
		200: { description: "A page of keys", content: { "application/json": { schema: ApiKeyPageSchema } } },
		...problemResponses(400, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const principal = c.var.principal;
		const { cursor, limit, owner, status } = c.req.valid("query");
		if (owner !== undefined && owner !== principal.subject && !principal.isAdmin) {
			throw new ApiError("forbidden", "Only an admin may list another person's keys", {
				errors: [{ path: ["query", "owner"], message: "admin only", code: "forbidden_field" }],
			});
		}
		const print = fingerprint(JSON.stringify({ owner: owner ?? null, status: status ?? null }));
		const after = decodeCursor(cursor, print);
		const conditions: (SQL | undefined)[] = [ownerFilter(principal)];
		if (owner !== undefined) conditions.push(eq(apiKeys.ownerSub, owner));
		if (status === "revoked") conditions.push(isNotNull(apiKeys.revokedAt));
		if (status === "active") conditions.push(isNull(apiKeys.revokedAt), gt(apiKeys.expiresAt, sql`now()`));
		if (status === "expired") conditions.push(isNull(apiKeys.revokedAt), lte(apiKeys.expiresAt, sql`now()`));
		if (after !== undefined) {
			const [createdAt, id] = splitTimeKey(after);
			conditions.push(
				or(
					sql`${apiKeys.createdAt} < ${createdAt}::timestamptz`,
					and(sql`${apiKeys.createdAt} = ${createdAt}::timestamptz`, sql`${apiKeys.id} < ${id}`),
				),
			);
		}
		const rows = await c.var
			.db()
			.select()
			.from(apiKeys)
			.where(and(...conditions))
			.orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
			.limit(limit + 1);
		const page = toPage(
			rows,
			limit,
			(row) => `${row.createdAt.toISOString()}|${row.id}`,
			presentApiKey,
			print,
		);
		return c.json(page, 200, { "cache-control": "no-store" });
	});
