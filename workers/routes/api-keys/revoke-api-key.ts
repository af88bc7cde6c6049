import { eq, sql } from "drizzle-orm";
import { authAuthorityClient } from "../../../durable-objects/auth-authority/client.ts";
import type { App } from "../../app.ts";
import { forgetApiKey } from "../../auth/credentials.ts";
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
} from "./schema.ts";

export type RevokeApiKeyResponse = ApiKeyResponse;

export const route = defineRoute({
	method: "delete",
	path: "/v1/api-keys/{id}",
	tags: ["api-keys"],
	summary: "Revoke an API key (effective everywhere within a second)",
	description:
		"The key (and a previous secret still in its rotation grace period) is refused from then on. Revoking a revoked key changes nothing and answers the same.",
	access: { permission: "api_keys:write" },
	request: { params: KeyIdParam },
	responses: {
		200: { description: "The revoked key", content: { "application/json": { schema: ApiKeySchema } } },
		...problemResponses(400, 404, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const principal = c.var.principal;
		assertPersonManagesKeys(principal);
		const { id } = c.req.valid("param");
		let before: ApiKeyRow | undefined;
		const row = await inTransaction(c.var.db(), async (tx) => {
			const current = await lockVisibleKey(tx, principal, id);
			if (current.revokedAt) return current;
			before = current;
			const [revoked] = await tx
				.update(apiKeys)
				.set({
					revokedAt: sql`now()`,
					revokedBy: principal.subject,
					updatedAt: sql`now()`,
					version: nextVersion,
				})
				.where(eq(apiKeys.id, id))
				.returning();
			if (!revoked) throw new Error(`revoking ${id} updated no row`);
			await authAuthorityClient(c.env)
				.putApiKey(authorityState(revoked))
				.catch((error: unknown) => {
					console.error(JSON.stringify({ msg: "auth authority unreachable", error: String(error) }));
					throw new ApiError(
						"unavailable",
						"The credentials authority is unreachable; the key was not revoked",
						{
							headers: { "retry-after": "1" },
						},
					);
				});
			return revoked;
		});
		forgetApiKey(id);
		if (before) {
			await c.var.events.publish({
				type: "audit.permission_changed",
				subject: `api-keys/${id}`,
				actor: principal.subject,
				data: {
					principal: `api_key:${id}`,
					action: "api_key.revoked",
					before: auditSnapshot(before),
					after: auditSnapshot(row),
				},
			});
		}
		return c.json(presentApiKey(row), 200, { "cache-control": "no-store" });
	});
