import { and, eq } from "drizzle-orm";
import type { App } from "../../app.ts";
import { apiKeys } from "../../db/schema/api-keys.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { type ApiKeyResponse, ApiKeySchema, KeyIdParam, ownerFilter, presentApiKey } from "./schema.ts";

export type GetApiKeyResponse = ApiKeyResponse;

export const route = defineRoute({
	method: "get",
	path: "/v1/api-keys/{id}",
	tags: ["api-keys"],
	summary: "One API key (never its secret)",
	description: "Admins see any key; anyone else only their own (others answer 404).",
	access: { permission: "api_keys:read" },
	request: { params: KeyIdParam },
	responses: {
		200: { description: "The key", content: { "application/json": { schema: ApiKeySchema } } },
		...problemResponses(400, 404, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		const owner = ownerFilter(c.var.principal);
		const [row] = await c.var
			.db()
			.select()
			.from(apiKeys)
			.where(owner ? and(eq(apiKeys.id, id), owner) : eq(apiKeys.id, id));
		if (!row) throw new ApiError("not_found", `No API key '${id}' that you can see`);
		return c.json(presentApiKey(row), 200, { "cache-control": "no-store" });
	});
