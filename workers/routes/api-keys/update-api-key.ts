import { z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import { authAuthorityClient } from "../../../durable-objects/auth-authority/client.ts";
import type { App } from "../../app.ts";
import { forgetApiKey } from "../../auth/credentials.ts";
import { assertWritableFields } from "../../auth/writable-fields.ts";
import { strictBody } from "../../cache/index.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { type ApiKeyRow, apiKeys } from "../../db/schema/api-keys.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import {
	type ApiKeyResponse,
	ApiKeySchema,
	assertPersonManagesKeys,
	auditSnapshot,
	authorityState,
	KeyIdParam,
	lockVisibleKey,
	nextVersion,
	presentApiKey,
	RateLimitSchema,
} from "./schema.ts";

/** What a PATCH may not touch: identity, secrets, scopes (make a new key instead) and bookkeeping. */
const READ_ONLY_FIELDS = [
	"id",
	"prefix",
	"environment",
	"owner",
	"created_by",
	"scopes",
	"status",
	"key",
	"created_at",
	"expires_at",
	"last_used_at",
	"revoked_at",
	"previous_key_valid_until",
	"version",
];

export const UpdateApiKeyBody = strictBody(
	{
		name: z.string().trim().min(1).max(100).optional(),
		rate_limit: RateLimitSchema.nullable().optional().openapi({
			description: "Admin only: this key's own limit; null returns it to the deployment default",
		}),
	},
	READ_ONLY_FIELDS,
)
	.refine((body) => body.name !== undefined || body.rate_limit !== undefined, {
		message: "Send name or rate_limit",
	})
	.openapi("UpdateApiKey");
export type UpdateApiKeyRequest = z.infer<typeof UpdateApiKeyBody>;
export type UpdateApiKeyResponse = ApiKeyResponse;

export const route = defineRoute({
	method: "patch",
	path: "/v1/api-keys/{id}",
	tags: ["api-keys"],
	summary: "Rename a key, or (admin) change its rate limit",
	description:
		"Scopes cannot be changed: create a key with the scopes you need and revoke this one. A new limit applies everywhere within a second.",
	access: { permission: "api_keys:write" },
	request: {
		params: KeyIdParam,
		body: { required: true, content: { "application/json": { schema: UpdateApiKeyBody } } },
	},
	responses: {
		200: {
			description: "The key after the change",
			content: { "application/json": { schema: ApiKeySchema } },
		},
		...problemResponses(400, 404, 406, 409, 413, 415),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const principal = c.var.principal;
		assertPersonManagesKeys(principal);
		const { id } = c.req.valid("param");
		const body = c.req.valid("json");
		assertWritableFields(principal, body, { rate_limit: "admin" });
		let before: ApiKeyRow | undefined;
		const row = await inTransaction(c.var.db(), async (tx) => {
			const current = await lockVisibleKey(tx, principal, id);
			if (current.revokedAt) throw new ApiError("conflict", `API key ${id} is revoked`);
			const limit = body.rate_limit;
			const changes = {
				name: body.name ?? current.name,
				rateLimitPerMinute: limit === undefined ? current.rateLimitPerMinute : (limit?.per_minute ?? null),
				rateLimitBurst: limit === undefined ? current.rateLimitBurst : (limit?.burst ?? null),
			};
			if (
				changes.name === current.name &&
				changes.rateLimitPerMinute === current.rateLimitPerMinute &&
				changes.rateLimitBurst === current.rateLimitBurst
			) {
				return current;
			}
			before = current;
			const [updated] = await tx
				.update(apiKeys)
				.set({ ...changes, updatedAt: sql`now()`, version: nextVersion })
				.where(eq(apiKeys.id, id))
				.returning();
			if (!updated) throw new Error(`updating ${id} returned no row`);
			await authAuthorityClient(c.env)
				.putApiKey(authorityState(updated))
				.catch((error: unknown) => {
					console.error(JSON.stringify({ msg: "auth authority unreachable", error: String(error) }));
					throw new ApiError("unavailable", "The credentials authority is unreachable; nothing was changed", {
						headers: { "retry-after": "1" },
					});
				});
			return updated;
		});
		forgetApiKey(id);
		const limitChanged =
			before !== undefined &&
			(before.rateLimitPerMinute !== row.rateLimitPerMinute || before.rateLimitBurst !== row.rateLimitBurst);
		if (before && limitChanged) {
			await c.var.events.publish({
				type: "audit.permission_changed",
				subject: `api-keys/${id}`,
				actor: principal.subject,
				data: {
					principal: `api_key:${id}`,
					action: "api_key.limits_changed",
					before: auditSnapshot(before),
					after: auditSnapshot(row),
				},
			});
		}
		return c.json(presentApiKey(row), 200, { "cache-control": "no-store" });
	});
