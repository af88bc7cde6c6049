import { z } from "@hono/zod-openapi";
import type { RevocationRow } from "../../../db/schema/revocations.ts";

export const RevocationSchema = z
	.object({
		id: z.string().uuid(),
		kind: z.enum(["jti", "sub"]).openapi({
			description: "`jti`: one token. `sub`: every token of that subject issued at or before revoked_before",
		}),
		value: z.string().openapi({
			description: "The token id, or the subject (personal data when kind is sub)",
			"x-personal-data": true,
		}),
		revoked_before: z.string().openapi({ format: "date-time" }),
		expires_at: z.string().openapi({
			format: "date-time",
			description: "When every token it targets has expired and the entry is dropped",
		}),
		reason: z.string().nullable(),
		created_by: z.string().openapi({ description: "The admin's sub", "x-personal-data": true }),
		created_at: z.string().openapi({ format: "date-time" }),
		updated_at: z.string().openapi({ format: "date-time" }),
	})
	.openapi("Revocation");
export type RevocationResponse = z.infer<typeof RevocationSchema>;

export function presentRevocation(row: RevocationRow): RevocationResponse {
	return {
		id: row.id,
		kind: row.kind as RevocationResponse["kind"],
		value: row.value,
		revoked_before: row.revokedBefore.toISOString(),
		expires_at: row.expiresAt.toISOString(),
		reason: row.reason,
		created_by: row.createdBy,
		created_at: row.createdAt.toISOString(),
		updated_at: row.updatedAt.toISOString(),
	};
}
