import { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { authAuthorityClient } from "../../../durable-objects/auth-authority/client.ts";
import type { App } from "../../app.ts";
import { hashApiKey, keyEnvironmentFor, newApiKey, newKeyId } from "../../auth/api-key-format.ts";
import { grantsFromScope, permissionsBeyond, unknownScopeTokens } from "../../auth/permissions.ts";
import { assertWritableFields } from "../../auth/writable-fields.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { apiKeys } from "../../db/schema/api-keys.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import {
	type ApiKeyWithSecretResponse,
	ApiKeyWithSecretSchema,
	assertPersonManagesKeys,
	auditSnapshot,
	authorityState,
	personal,
	presentApiKey,
	RateLimitSchema,
} from "./schema.ts";

const DAY_MS = 86_400_000;
export const DEFAULT_KEY_LIFETIME_DAYS = 365;
export const MAX_KEY_LIFETIME_DAYS = 2 * 365;

export const CreateApiKeyBody = z
	.object({
		name: z.string().trim().min(1).max(100).openapi({ example: "Nightly settlement export" }),
		scopes: z
			.array(z.string().trim().min(1).max(64))
			.min(1)
			.max(32)
			.openapi({
				example: ["partner", "nation:KE"],
				description:
					"Scope tokens (docs/identity.md): roles, constraints (nation:KE, sector:energy, region:ams) and <resource>:read|write. Never more than you hold yourself",
			}),
		expires_at: z.iso
			.datetime({ offset: true })
			.optional()
			.openapi({
				description: `Default: ${DEFAULT_KEY_LIFETIME_DAYS} days from now; at most ${MAX_KEY_LIFETIME_DAYS}`,
			}),
		rate_limit: RateLimitSchema.optional().openapi({ description: "Admin only: this key's own limit" }),
		owner: z
			.string()
			.min(1)
			.max(255)
			.optional()
			.openapi({ description: "Admin only: the `sub` the key acts for (default: you)", ...personal }),
	})
	.strict()
	.openapi("CreateApiKey");
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyBody>;

const IdempotencyHeaders = z.object({
	"idempotency-key": z.string().min(1).max(200).optional().openapi({
		description:
			"Retrying with the same key and body never creates a second key: it answers 409 naming the key made first (its secret was shown once; rotate it if the response was lost)",
	}),
});

export const route = defineRoute({
	method: "post",
	path: "/v1/api-keys",
	tags: ["api-keys"],
	summary: "Create a partner API key (the secret is shown once)",
	description:
		"Admins and partners (`api_keys:write`) create keys for themselves; an admin may create one for someone else (`owner`) and give it its own rate limit. A key's scopes are a subset of its creator's, never more. Only the SHA-256 of the key is stored.",
	access: { permission: "api_keys:write" },
	request: {
		headers: IdempotencyHeaders,
		body: { required: true, content: { "application/json": { schema: CreateApiKeyBody } } },
	},
	responses: {
		201: {
			description: "The key, with its secret (only here)",
			headers: { Location: { description: "The key's URL", schema: { type: "string" } } },
			content: { "application/json": { schema: ApiKeyWithSecretSchema } },
		},
		...problemResponses(400, 406, 409, 413, 415, 422),
	},
});

async function sha256Hex(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const principal = c.var.principal;
		assertPersonManagesKeys(principal);
		const body = c.req.valid("json");
		assertWritableFields(principal, body, { owner: "admin", rate_limit: "admin" });

		const scopes = [...new Set(body.scopes)];
		const unknown = unknownScopeTokens(scopes);
		if (unknown.length > 0) {
			throw new ApiError("invalid_request", `Unknown scope tokens: ${unknown.join(", ")}`, {
				errors: unknown.map((token) => ({
					path: ["scopes", scopes.indexOf(token)],
					message: `'${token}' is not a role, a constraint (nation:XX, sector:<slug>, region:<code>) or <resource>:read|write`,
					code: "unknown_scope",
				})),
			});
		}
		const beyond = permissionsBeyond(principal.grants, grantsFromScope(scopes.join(" "), []));
		if (beyond.length > 0) {
			throw new ApiError("forbidden", "A key cannot carry permissions you do not hold yourself", {
				errors: beyond.map((permission) => ({
					path: ["scopes"],
					message: permission,
					code: "scope_escalation",
				})),
			});
		}

		const now = Date.now();
		const expiresAt = body.expires_at
			? new Date(body.expires_at)
			: new Date(now + DEFAULT_KEY_LIFETIME_DAYS * DAY_MS);
		if (expiresAt.getTime() <= now + 60_000 || expiresAt.getTime() > now + MAX_KEY_LIFETIME_DAYS * DAY_MS) {
			throw new ApiError(
				"invalid_request",
				`expires_at must be between a minute and ${MAX_KEY_LIFETIME_DAYS} days from now`,
				{
					errors: [{ path: ["expires_at"], message: "out of range", code: "too_small_or_big" }],
				},
			);
		}

		const idempotencyKey = c.req.valid("header")["idempotency-key"];
		const requestHash = await sha256Hex(
			JSON.stringify({ ...body, scopes, expires_at: body.expires_at ?? null, owner: body.owner ?? null }),
		);
		const environment = keyEnvironmentFor(c.env.ENVIRONMENT);
		const id = newKeyId();
		const key = newApiKey(environment, id);
		const secretHash = await hashApiKey(key);

		const row = await inTransaction(c.var.db(), async (tx) => {
			if (idempotencyKey) {
				const [earlier] = await tx
					.select({ id: apiKeys.id, requestHash: apiKeys.requestHash })
					.from(apiKeys)
					.where(and(eq(apiKeys.createdBy, principal.subject), eq(apiKeys.idempotencyKey, idempotencyKey)));
				if (earlier) {
					if (earlier.requestHash !== requestHash) {
						throw new ApiError(
							"idempotency_key_reused",
							"This Idempotency-Key was used for a different request body",
						);
					}
					throw new ApiError(
						"conflict",
						`This request already created API key ${earlier.id}; its secret was shown once. Rotate it (POST /v1/api-keys/${earlier.id}/rotate) if the response was lost`,
						{ extensions: { key_id: earlier.id } },
					);
				}
			}
			const [inserted] = await tx
				.insert(apiKeys)
				.values({
					id,
					environment,
					name: body.name,
					ownerSub: body.owner ?? principal.subject,
					createdBy: principal.subject,
					scopes,
					secretHash,
					rateLimitPerMinute: body.rate_limit?.per_minute ?? null,
					rateLimitBurst: body.rate_limit?.burst ?? null,
					expiresAt,
					idempotencyKey: idempotencyKey ?? null,
					requestHash,
					// Millisecond precision, exactly what a cursor carries (keyset pagination on created_at).
					createdAt: new Date(now),
					updatedAt: new Date(now),
				})
				.returning();
			if (!inserted) throw new Error("insert into api_keys returned no row");
			// The authority learns of the key before it is committed: a key is never usable in Postgres only.
			await authAuthorityClient(c.env)
				.putApiKey(authorityState(inserted))
				.catch((error: unknown) => {
					console.error(JSON.stringify({ msg: "auth authority unreachable", error: String(error) }));
					throw new ApiError("unavailable", "The credentials authority is unreachable; no key was created", {
						headers: { "retry-after": "1" },
					});
				});
			return inserted;
		});

		await c.var.events.publish({
			type: "audit.permission_changed",
			subject: `api-keys/${row.id}`,
			actor: principal.subject,
			data: { principal: `api_key:${row.id}`, action: "api_key.created", after: auditSnapshot(row) },
		});
		const response: ApiKeyWithSecretResponse = { ...presentApiKey(row), key };
		return c.json(response, 201, { location: `/v1/api-keys/${row.id}`, "cache-control": "no-store" });
	});
