import { z } from "@hono/zod-openapi";
import type { UserRow } from "../../db/schema/users.ts";
import { SERVING_REGIONS } from "../../domain/serving-regions.ts";

/** Marks a property as personal data in the OpenAPI document (for erasure and residency work). */
export const personal = { "x-personal-data": true } as const;

/** The representation of a person, shared by /v1/me and the admin /v1/users routes. */
export const UserSchema = z
	.object({
		id: z.string().uuid(),
		sub: z.string().openapi({ description: "The identity provider's subject", ...personal }),
		email: z
			.string()
			.nullable()
			.openapi({ description: "From the token's email claim", ...personal }),
		name: z
			.string()
			.nullable()
			.openapi({ description: "From the token's name claim", ...personal }),
		display_name: z
			.string()
			.nullable()
			.openapi({ description: "Chosen by the person; falls back to name", ...personal }),
		home_region: z
			.enum(SERVING_REGIONS)
			.openapi({ description: "Serving region holding this person's data (residency)" }),
		locale: z
			.string()
			.nullable()
			.openapi({ example: "fr-KE", description: "BCP 47 language tag", ...personal }),
		preferences: z
			.record(z.string(), z.unknown())
			.openapi({ description: "Client preferences", ...personal }),
		last_authenticated_at: z
			.string()
			.nullable()
			.openapi({ format: "date-time", description: "Start of the latest session", ...personal }),
		created_at: z.string().openapi({ format: "date-time" }),
		updated_at: z.string().openapi({ format: "date-time" }),
		version: z.number().int().openapi({ description: "Row version, incremented by every change" }),
	})
	.openapi("User");
export type UserResponse = z.infer<typeof UserSchema>;

export function presentUser(row: UserRow): UserResponse {
	return {
		id: row.id,
		sub: row.sub,
		email: row.email,
		name: row.name,
		display_name: row.displayName ?? row.name,
		home_region: row.homeRegion as UserResponse["home_region"],
		locale: row.locale,
		preferences: row.preferences,
		last_authenticated_at: row.lastAuthenticatedAt?.toISOString() ?? null,
		created_at: row.createdAt.toISOString(),
		updated_at: row.updatedAt.toISOString(),
		version: row.version,
	};
}

/** A strong ETag for a user record: its id and row version. */
export function userEtag(row: Pick<UserRow, "id" | "version">): string {
	return `"user-${row.id}-v${row.version}"`;
}
