import { z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import type { App } from "../../app.ts";
import { ensureUser } from "../../auth/provisioning.ts";
import { ifMatchSatisfied, strictBody, writeRequestHeaders } from "../../cache/index.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { users } from "../../db/schema/users.ts";
import { SERVING_REGIONS } from "../../domain/serving-regions.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { personal, presentUser, type UserResponse, UserSchema, userEtag } from "./schema.ts";

/** Fields of a user record no PATCH may set: identity comes from the identity provider, bookkeeping from us. */
const READ_ONLY_FIELDS = [
	"id",
	"sub",
	"email",
	"name",
	"last_authenticated_at",
	"created_at",
	"updated_at",
	"version",
];
export const MAX_PREFERENCES_BYTES = 8 * 1024;

const Locale = z
	.string()
	.min(2)
	.max(35)
	.refine(
		(tag) => {
			try {
				return Intl.getCanonicalLocales(tag).length === 1;
			} catch {
				return false;
			}
		},
		{ message: "must be a BCP 47 language tag, e.g. en, fr-KE, zh-Hant-TW" },
	)
	.transform((tag) => Intl.getCanonicalLocales(tag)[0] as string);

export const UpdateMeBody = strictBody(
	{
		display_name: z.string().trim().min(1).max(100).nullable().optional().openapi(personal),
		home_region: z.enum(SERVING_REGIONS).optional().openapi({
			description: "Moves where your data is held (residency) to this serving region",
		}),
		locale: Locale.nullable()
			.optional()
			.openapi({ example: "fr-KE", ...personal }),
		preferences: z
			.record(z.string().max(64), z.unknown())
			.refine((p) => Object.keys(p).length <= 50, { message: "at most 50 preferences" })
			.refine((p) => new TextEncoder().encode(JSON.stringify(p)).byteLength <= MAX_PREFERENCES_BYTES, {
				message: `at most ${MAX_PREFERENCES_BYTES} bytes of JSON`,
			})
			.optional()
			.openapi({ description: "Replaces your preferences object as a whole", ...personal }),
	},
	READ_ONLY_FIELDS,
)
	.refine((body) => Object.values(body).some((value) => value !== undefined), {
		message: "Send at least one of display_name, home_region, locale, preferences",
	})
	.openapi("UpdateMe");
export type UpdateMeRequest = z.input<typeof UpdateMeBody>;
export type UpdateMeResponse = UserResponse;

export const route = defineRoute({
	method: "patch",
	path: "/v1/me",
	tags: ["me"],
	summary: "Change your display name, home region, locale or preferences",
	description:
		"Identity fields (sub, email, name) come from your identity provider and are refused here (400), as are unknown fields. Send If-Match with the ETag you read to avoid overwriting a change made elsewhere (412). Sending the current values changes nothing.",
	access: { permission: "profile:write" },
	request: {
		headers: writeRequestHeaders,
		body: { required: true, content: { "application/json": { schema: UpdateMeBody } } },
	},
	responses: {
		200: {
			description: "Your record after the change",
			headers: { ETag: { description: "The new ETag", schema: { type: "string" } } },
			content: { "application/json": { schema: UserSchema } },
		},
		...problemResponses(400, 406, 412, 413, 415, 422),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const body = c.req.valid("json");
		const principal = c.var.principal;
		const provisioned = await ensureUser(c, principal);
		const row = await inTransaction(c.var.db(), async (tx) => {
			const [current] = await tx.select().from(users).where(eq(users.id, provisioned.id)).for("update");
			if (!current) throw new Error(`user ${provisioned.id} vanished`);
			const etag = userEtag(current);
			if (!ifMatchSatisfied(c.req.header("if-match"), etag)) {
				throw new ApiError("precondition_failed", "Your record has changed since the ETag you sent", {
					headers: { etag },
				});
			}
			const changes = {
				displayName: body.display_name !== undefined ? body.display_name : current.displayName,
				homeRegion: body.home_region ?? current.homeRegion,
				locale: body.locale !== undefined ? body.locale : current.locale,
				preferences: (body.preferences as Record<string, unknown> | undefined) ?? current.preferences,
			};
			const unchanged =
				changes.displayName === current.displayName &&
				changes.homeRegion === current.homeRegion &&
				changes.locale === current.locale &&
				JSON.stringify(changes.preferences) === JSON.stringify(current.preferences);
			if (unchanged) return current;
			const [updated] = await tx
				.update(users)
				.set({ ...changes, updatedAt: sql`now()`, version: sql`${users.version} + 1` })
				.where(eq(users.id, current.id))
				.returning();
			if (!updated) throw new Error(`updating user ${current.id} returned no row`);
			return updated;
		});
		c.header("etag", userEtag(row));
		c.header("cache-control", "no-store");
		return c.json(presentUser(row), 200);
	});
