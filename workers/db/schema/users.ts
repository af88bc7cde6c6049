import { sql } from "drizzle-orm";
import { check, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./columns.ts";

/**
 * People who have called the API with a token. A row is provisioned on a person's first authenticated
 * request from the token's claims. Columns holding personal data are listed in `PERSONAL_DATA`
 * (personal-data.ts) so erasure and residency work can find every one.
 */
export const users = pgTable(
	"users",
	{
		id: uuid("id").primaryKey().defaultRandom(),
		/** The identity provider's subject (`sub`): the key provisioning upserts on. Personal. */
		sub: text("sub").notNull(),
		/** From the token's email claim, refreshed on sign-in. Personal. */
		email: text("email"),
		/** From the token's name claim, refreshed on sign-in. Personal. */
		name: text("name"),
		/** Chosen by the person (PATCH /v1/me); falls back to `name`. Personal. */
		displayName: text("display_name"),
		/** Serving region holding this person's data (residency): a claim at provisioning, else the serving edge. */
		homeRegion: text("home_region").notNull(),
		/** BCP 47 language tag. Personal. */
		locale: text("locale"),
		/** Free-form client preferences (bounded at the API). Personal. */
		preferences: jsonb("preferences").$type<Record<string, unknown>>().notNull().default({}),
		/** Last time a `users.authenticated` event was emitted for this person (one per session window). */
		lastAuthenticatedAt: timestamp("last_authenticated_at", { withTimezone: true, mode: "date" }),
		...timestamps(),
	},
	(t) => [
		uniqueIndex("users_sub_idx").on(t.sub),
		index("users_created_idx").on(t.createdAt, t.id),
		index("users_home_region_idx").on(t.homeRegion, t.createdAt, t.id),
		index("users_email_idx").on(sql`lower(${t.email})`),
		check("users_home_region_check", sql`home_region in ('ams', 'iad', 'syd', 'sin', 'sfo', 'jnb')`),
	],
);

export type UserRow = typeof users.$inferSelect;
