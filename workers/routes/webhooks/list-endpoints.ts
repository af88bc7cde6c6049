import { z } from "@hono/zod-openapi";
import { and, desc, eq, or, type SQL, sql } from "drizzle-orm";
import type { App } from "../../app.ts";
import {
	DEFAULT_PAGE_SIZE,
	decodeCursor,
	fingerprint,
	MAX_PAGE_SIZE,
	splitTimeKey,
	toPage,
} from "../../db/queries/pagination.ts";
import { webhookEndpoints } from "../../db/schema/webhooks.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { EndpointSchema, ownerCondition, presentEndpoint } from "./schema.ts";

export const ListEndpointsQuery = z
	.object({
		owner: z.string().min(1).max(255).optional().openapi({
			description: "Admins only: the endpoints of this partner (`sub`)",
			"x-personal-data": true,
		}),
		enabled: z
			.enum(["true", "false"])
			.transform((v) => v === "true")
			.optional()
			.openapi({ description: "Only enabled (or only disabled) endpoints" }),
		cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
	})
	.strict();

export const EndpointPageSchema = z
	.object({
		data: z.array(EndpointSchema),
		next_cursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next page; null on the last" }),
	})
	.openapi("WebhookEndpointPage");
export type EndpointPageResponse = z.infer<typeof EndpointPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/webhooks/endpoints",
	tags: ["webhooks"],
	summary: "List webhook endpoints, newest first (never their secrets)",
	description: "A partner sees only its own endpoints; an admin sees everyone's and may filter by owner.",
	access: { permission: "webhooks:read" },
	request: { query: ListEndpointsQuery },
	responses: {
		200: {
			description: "A page of endpoints",
			content: { "application/json": { schema: EndpointPageSchema } },
		},
		...problemResponses(400, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const principal = c.var.principal;
		const { cursor, limit, owner, enabled } = c.req.valid("query");
		if (owner !== undefined && owner !== principal.subject && !principal.isAdmin) {
			throw new ApiError("forbidden", "Only an admin may list another partner's endpoints", {
				errors: [{ path: ["query", "owner"], message: "admin only", code: "forbidden_field" }],
			});
		}
		const print = fingerprint(JSON.stringify({ owner: owner ?? null, enabled: enabled ?? null }));
		const after = decodeCursor(cursor, print);
		const conditions: (SQL | undefined)[] = [ownerCondition(principal)];
		if (owner !== undefined) conditions.push(eq(webhookEndpoints.owner, owner));
		if (enabled !== undefined) conditions.push(eq(webhookEndpoints.enabled, enabled));
		if (after !== undefined) {
			const [createdAt, id] = splitCursorKey(after);
			conditions.push(
				or(
					sql`${webhookEndpoints.createdAt} < ${createdAt}::timestamptz`,
					and(
						sql`${webhookEndpoints.createdAt} = ${createdAt}::timestamptz`,
						sql`${webhookEndpoints.id} < ${id}::uuid`,
					),
				),
			);
		}
		const rows = await c.var
			.db()
			.select()
			.from(webhookEndpoints)
			.where(and(...conditions))
			.orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id))
			.limit(limit + 1);
		const now = Date.now();
		const page: EndpointPageResponse = toPage(
			rows,
			limit,
			(row) => `${row.createdAt.toISOString()}|${row.id}`,
			(row) => presentEndpoint(row, now),
			print,
		);
		return c.json(page, 200, { "cache-control": "no-store" });
	});

/** `<ISO time>|<uuid>`, as the cursors of the webhook listings carry it. */
export function splitCursorKey(key: string): [string, string] {
	return splitTimeKey(key, /^[0-9a-f-]{36}$/);
}
