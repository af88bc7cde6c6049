import { z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import { authAuthorityClient } from "../../../durable-objects/auth-authority/client.ts";
import type { App } from "../../app.ts";
import { hashApiKey, type KeyEnvironment, newApiKey } from "../../auth/api-key-format.ts";
import { forgetApiKey } from "../../auth/credentials.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { type ApiKeyRow, apiKeys } from "../../db/schema/api-keys.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import {
	type ApiKeyWithSecretResponse,
	ApiKeyWithSecretSchema,
	assertPersonManagesKeys,
	auditSnapshot,
	authorityState,
	KeyIdParam,
	keyStatus,
	lockVisibleKey,
	nextVersion,
	presentApiKey,
} from "./schema.ts";

export const DEFAULT_GRACE_SECONDS = 24 * 60 * 60;
export const MAX_GRACE_SECONDS = 7 * 24 * 60 * 60;

export const RotateApiKeyBody = z
	.object({
		grace_period_seconds: z
			.number()
			.int()
			.min(0)
			.max(MAX_GRACE_SECONDS)
			.optional()
			.openapi({
				description: `How long the old secret keeps working (default ${DEFAULT_GRACE_SECONDS}; 0 ends it now)`,
			}),
	})
	.strict()
	.openapi("RotateApiKey");
export type RotateApiKeyRequest = z.infer<typeof RotateApiKeyBody>;

export const route = defineRoute({
	method: "post",
	path: "/v1/api-keys/{id}/rotate",
	tags: ["api-keys"],
	summary: "Rotate an API key's secret; the old one stays valid for a grace period",
	description:
		"Same key id, scopes, limits and history; a new secret (shown once). The previous secret is accepted until `previous_key_valid_until`. Rotating again during a grace period ends the older secret at once: only the immediately previous one is kept.",
	access: { permission: "api_keys:write" },
	request: {
		params: KeyIdParam,
		body: { required: false, content: { "application/json": { schema: RotateApiKeyBody } } },
	},
	responses: {
		200: {
			description: "The key with its new secret (only here)",
			content: { "application/json": { schema: ApiKeyWithSecretSchema } },
		},
		...problemResponses(400, 404, 406, 409, 413, 415),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const principal = c.var.principal;
		assertPersonManagesKeys(principal);
		const { id } = c.req.valid("param");
		const grace = c.req.valid("json")?.grace_period_seconds ?? DEFAULT_GRACE_SECONDS;
		let before: ApiKeyRow | undefined;
		let key = "";
		const row = await inTransaction(c.var.db(), async (tx) => {
			const current = await lockVisibleKey(tx, principal, id);
			const status = keyStatus(current);
			if (status !== "active") {
				throw new ApiError("conflict", `API key ${id} is ${status}; only an active key can be rotated`);
			}
			before = current;
			key = newApiKey(current.environment as KeyEnvironment, id);
			const [rotated] = await tx
				.update(apiKeys)
				.set({
					secretHash: await hashApiKey(key),
					previousSecretHash: grace > 0 ? current.secretHash : null,
					previousValidUntil: grace > 0 ? sql`now() + make_interval(secs => ${grace})` : null,
					updatedAt: sql`now()`,
					version: nextVersion,
				})
				.where(eq(apiKeys.id, id))
				.returning();
			if (!rotated) throw new Error(`rotating ${id} updated no row`);
			await authAuthorityClient(c.env)
				.putApiKey(authorityState(rotated))
				.catch((error: unknown) => {
					console.error(JSON.stringify({ msg: "auth authority unreachable", error: String(error) }));
					throw new ApiError(
						"unavailable",
						"The credentials authority is unreachable; the key was not rotated",
						{
							headers: { "retry-after": "1" },
						},
					);
				});
			return rotated;
		});
		forgetApiKey(id);
		await c.var.events.publish({
			type: "audit.permission_changed",
			subject: `api-keys/${id}`,
			actor: principal.subject,
			data: {
				principal: `api_key:${id}`,
				action: "api_key.rotated",
				before: before ? auditSnapshot(before) : undefined,
				after: auditSnapshot(row),
			},
		});
		const response: ApiKeyWithSecretResponse = { ...presentApiKey(row), key };
		return c.json(response, 200, { "cache-control": "no-store" });
	});
