import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { timestamps } from "./columns.ts";

/**
 * Partner API keys. The secret is never stored: only the SHA-256 of the whole key. The AuthAuthority Durable
 * Object is the authority requests are checked against (revocation effective within a second everywhere);
 * this table is the record it is hydrated from and the one listings read.
 */
export const apiKeys = pgTable(
	"api_keys",
	{
		/** 16 base32 characters, part of the key itself (`cov_<env>_<id>_<secret>`). */
		id: text("id").primaryKey(),
		/** `live` (production) or `test`. */
		environment: text("environment").notNull(),
		name: text("name").notNull(),
		/** The `sub` of the person the key acts for; listings of non-admins are limited to it. Personal. */
		ownerSub: text("owner_sub").notNull(),
		/** The `sub` of the person who created it (an admin may create keys for someone else). Personal. */
		createdBy: text("created_by").notNull(),
		/** Scope tokens, same grammar as a token's `scope` claim; a subset of the creator's at creation. */
		scopes: text("scopes").array().notNull(),
		secretHash: text("secret_hash").notNull(),
		/** After a rotation, the previous secret's hash stays valid until `previousValidUntil`. */
		previousSecretHash: text("previous_secret_hash"),
		previousValidUntil: timestamp("previous_valid_until", { withTimezone: true, mode: "date" }),
		/** Per-key limit (route cost units per minute, bucket size); null means the deployment default. */
		rateLimitPerMinute: integer("rate_limit_per_minute"),
		rateLimitBurst: integer("rate_limit_burst"),
		expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
		revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
		/** Personal. */
		revokedBy: text("revoked_by"),
		/** Written by the authority's alarm, at most a minute behind. */
		lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
		/** `Idempotency-Key` of the creating request and a hash of its body: a retry never makes a second key. */
		idempotencyKey: text("idempotency_key"),
		requestHash: text("request_hash"),
		...timestamps(),
	},
	(t) => [
		index("api_keys_owner_idx").on(t.ownerSub, t.createdAt, t.id),
		index("api_keys_created_idx").on(t.createdAt, t.id),
		uniqueIndex("api_keys_idempotency_idx").on(t.createdBy, t.idempotencyKey),
		check("api_keys_environment_check", sql`environment in ('live', 'test')`),
		check(
			"api_keys_rate_limit_check",
			sql`(rate_limit_per_minute is null) = (rate_limit_burst is null) and coalesce(rate_limit_per_minute, 1) > 0 and coalesce(rate_limit_burst, 1) > 0`,
		),
	],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
