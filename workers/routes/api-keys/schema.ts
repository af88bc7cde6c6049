import { z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import type { ApiKeyState } from "../../../durable-objects/auth-authority/object.ts";
import { displayPrefix, KEY_ID_RE, type KeyEnvironment } from "../../auth/api-key-format.ts";
import type { Principal } from "../../auth/principal.ts";
import type { Queryable } from "../../db/queries/pagination.ts";
import { type ApiKeyRow, apiKeys } from "../../db/schema/api-keys.ts";
import { ApiError } from "../../lib/problem.ts";

/** Marks a property as personal data in the OpenAPI document (for erasure and residency work). */
export const personal = { "x-personal-data": true } as const;

const timestamp = (description: string) => z.string().openapi({ format: "date-time", description });

export const RateLimitSchema = z
	.object({
		per_minute: z
			.number()
			.int()
			.min(1)
			.max(1_000_000)
			.openapi({ description: "Sustained rate, in route-cost units a minute" }),
		burst: z
			.number()
			.int()
			.min(1)
			.max(100_000)
			.openapi({ description: "The most units spent at once (bucket size)" }),
	})
	.strict()
	.openapi("RateLimit");

export const ApiKeySchema = z
	.object({
		id: z.string().openapi({ example: "k7x3q2m9a4b5c6d7" }),
		name: z.string().openapi({ example: "Nightly settlement export" }),
		prefix: z.string().openapi({
			example: "cov_live_k7x3q2m9a4b5c6d7",
			description: "The key's non-secret beginning, to recognise it (the secret part is never shown again)",
		}),
		environment: z.enum(["live", "test"]),
		owner: z.string().openapi({ description: "The `sub` of the person the key acts for", ...personal }),
		created_by: z.string().openapi({ description: "The `sub` of the person who created it", ...personal }),
		scopes: z.array(z.string()).openapi({ example: ["partner", "nation:KE"] }),
		status: z.enum(["active", "revoked", "expired"]),
		rate_limit: RateLimitSchema.nullable().openapi({
			description: "null: the deployment's default limit applies",
		}),
		created_at: timestamp("When the key was created"),
		expires_at: timestamp("When the key stops working"),
		last_used_at: timestamp("Last accepted request (updated within a minute)").nullable(),
		revoked_at: timestamp("When the key was revoked").nullable(),
		previous_key_valid_until: timestamp(
			"After a rotation, until when the previous secret is still accepted",
		).nullable(),
		version: z.number().int(),
	})
	.openapi("ApiKey");
export type ApiKeyResponse = z.infer<typeof ApiKeySchema>;

export const ApiKeyWithSecretSchema = ApiKeySchema.extend({
	key: z.string().openapi({
		example: "cov_live_k7x3q2m9a4b5c6d7_q2m9…",
		description: "The full key. Shown only in this response: store it now, it cannot be retrieved again",
	}),
}).openapi("ApiKeyWithSecret");
export type ApiKeyWithSecretResponse = z.infer<typeof ApiKeyWithSecretSchema>;

export const KeyIdParam = z.object({
	id: z
		.string()
		.regex(KEY_ID_RE, "must be an API key id (16 base32 characters)")
		.openapi({ param: { name: "id", in: "path" }, example: "k7x3q2m9a4b5c6d7" }),
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function keyStatus(row: ApiKeyRow, now = Date.now()): ApiKeyResponse["status"] {
	if (row.revokedAt) return "revoked";
	return row.expiresAt.getTime() <= now ? "expired" : "active";
}

export function presentApiKey(row: ApiKeyRow): ApiKeyResponse {
	const now = Date.now();
	return {
		id: row.id,
		name: row.name,
		prefix: displayPrefix(row.environment as KeyEnvironment, row.id),
		environment: row.environment as KeyEnvironment,
		owner: row.ownerSub,
		created_by: row.createdBy,
		scopes: row.scopes,
		status: keyStatus(row, now),
		rate_limit:
			row.rateLimitPerMinute !== null && row.rateLimitBurst !== null
				? { per_minute: row.rateLimitPerMinute, burst: row.rateLimitBurst }
				: null,
		created_at: row.createdAt.toISOString(),
		expires_at: row.expiresAt.toISOString(),
		last_used_at: iso(row.lastUsedAt),
		revoked_at: iso(row.revokedAt),
		previous_key_valid_until:
			row.previousValidUntil && row.previousValidUntil.getTime() > now
				? row.previousValidUntil.toISOString()
				: null,
		version: row.version,
	};
}

/** The state the credentials authority needs to check requests made with this key. */
export function authorityState(row: ApiKeyRow): ApiKeyState {
	return {
		id: row.id,
		ownerSub: row.ownerSub,
		scopes: row.scopes,
		secretHash: row.secretHash,
		previousSecretHash: row.previousSecretHash,
		previousValidUntil: row.previousValidUntil?.getTime() ?? null,
		expiresAt: row.expiresAt.getTime(),
		revokedAt: row.revokedAt?.getTime() ?? null,
		rateLimitPerMinute: row.rateLimitPerMinute,
		rateLimitBurst: row.rateLimitBurst,
		version: row.version,
	};
}

/** Admins see every key; anyone else only the keys they own. Others' keys are 404, never 403 (no probing). */
export function ownerFilter(principal: Principal) {
	return principal.isAdmin ? undefined : eq(apiKeys.ownerSub, principal.subject);
}

/** Loads and row-locks a key the caller may manage, for a change in the current transaction. */
export async function lockVisibleKey(tx: Queryable, principal: Principal, id: string): Promise<ApiKeyRow> {
	const owner = ownerFilter(principal);
	const [row] = await tx
		.select()
		.from(apiKeys)
		.where(owner ? and(eq(apiKeys.id, id), owner) : eq(apiKeys.id, id))
		.for("update");
	if (!row) throw new ApiError("not_found", `No API key '${id}' that you can manage`);
	return row;
}

/** Keys are managed by people: a key that could mint or rotate keys would outlive its owner's session. */
export function assertPersonManagesKeys(principal: Principal): void {
	if (principal.kind !== "user") {
		throw new ApiError(
			"forbidden",
			"API keys cannot create, rotate or revoke API keys; use a person's token",
		);
	}
}

/** The snapshot of a key recorded in `audit.permission_changed` (never its hashes). */
export function auditSnapshot(row: ApiKeyRow): Record<string, unknown> {
	return {
		key_id: row.id,
		owner: row.ownerSub,
		scopes: row.scopes,
		status: keyStatus(row),
		expires_at: row.expiresAt.toISOString(),
		rate_limit:
			row.rateLimitPerMinute !== null
				? { per_minute: row.rateLimitPerMinute, burst: row.rateLimitBurst }
				: null,
		previous_key_valid_until: iso(row.previousValidUntil),
		version: row.version,
	};
}

/** `version + 1`, for updates that change a key. */
export const nextVersion = sql`${apiKeys.version} + 1`;
