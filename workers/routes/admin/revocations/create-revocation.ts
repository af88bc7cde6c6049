import { z } from "@hono/zod-openapi";
import { getTableColumns, sql } from "drizzle-orm";
import { authAuthorityClient } from "../../../../durable-objects/auth-authority/client.ts";
import type { App } from "../../../app.ts";
import { markRevocationsStale } from "../../../auth/credentials.ts";
import { CLOCK_TOLERANCE_SECONDS, MAX_TOKEN_LIFETIME_SECONDS } from "../../../auth/jwt.ts";
import { inTransaction } from "../../../db/queries/transaction.ts";
import { revocations } from "../../../db/schema/revocations.ts";
import { ApiError, problemResponses } from "../../../lib/problem.ts";
import { defineRoute } from "../../../lib/route.ts";
import { presentRevocation, type RevocationResponse, RevocationSchema } from "./schema.ts";

export const CreateRevocationBody = z
	.object({
		jti: z
			.string()
			.min(1)
			.max(255)
			.optional()
			.openapi({ description: "Revoke this one token (its `jti` claim)" }),
		sub: z.string().min(1).max(255).optional().openapi({
			description: "End every session of this subject: tokens it was issued until now are refused",
			"x-personal-data": true,
		}),
		reason: z.string().trim().min(1).max(500).optional(),
	})
	.strict()
	.refine((body) => (body.jti === undefined) !== (body.sub === undefined), {
		message: "Send exactly one of jti and sub",
	})
	.openapi("CreateRevocation");
export type CreateRevocationRequest = z.infer<typeof CreateRevocationBody>;

export const route = defineRoute({
	method: "post",
	path: "/v1/admin/revocations",
	tags: ["admin"],
	summary: "Revoke a token (by jti) or every session of a subject (by sub); effective within a second",
	description:
		"Idempotent: revoking the same token again changes nothing (200); revoking a subject again moves its cutoff to now (200). The entry is kept until every token it targets has expired (the longest token lifetime accepted). API keys are revoked with DELETE /v1/api-keys/{id}.",
	access: { permission: "admin:write" },
	request: { body: { required: true, content: { "application/json": { schema: CreateRevocationBody } } } },
	responses: {
		201: {
			description: "The revocation, now in force",
			content: { "application/json": { schema: RevocationSchema } },
		},
		200: {
			description: "It already existed (a subject's cutoff moved to now)",
			content: { "application/json": { schema: RevocationSchema } },
		},
		...problemResponses(400, 406, 409, 413, 415),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const body = c.req.valid("json");
		const principal = c.var.principal;
		const kind = body.jti !== undefined ? "jti" : "sub";
		const value = (body.jti ?? body.sub) as string;
		// Every token it can target expires by then (lifetime cap plus the verifier's clock tolerance).
		const keepSeconds = MAX_TOKEN_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS;
		const now = Date.now();
		const revokedBefore = new Date(now);
		const expiresAt = new Date(now + keepSeconds * 1000);
		// The authority first: once it answers, the revocation is in force everywhere. Should Postgres then
		// fail, the request answers 503 with the revocation still in force (the safe side), and a retry, being
		// idempotent, records it. The authority may read Postgres on first use, so it is never called while
		// this request holds a transaction open.
		const outcome = await authAuthorityClient(c.env)
			.revoke({ kind, value, revokedBefore: now, expiresAt: expiresAt.getTime() })
			.catch((error: unknown) => {
				console.error(JSON.stringify({ msg: "auth authority unreachable", error: String(error) }));
				throw new ApiError("unavailable", "The credentials authority is unreachable; nothing was revoked", {
					headers: { "retry-after": "1" },
				});
			});
		if ("refused" in outcome) throw new ApiError("conflict", outcome.refused);
		const { row, created } = await inTransaction(c.var.db(), async (tx) => {
			const [stored] = await tx
				.insert(revocations)
				.values({
					kind,
					value,
					revokedBefore,
					expiresAt,
					reason: body.reason ?? null,
					createdBy: principal.subject,
					createdAt: revokedBefore,
					updatedAt: revokedBefore,
				})
				.onConflictDoUpdate({
					target: [revocations.kind, revocations.value],
					set: {
						revokedBefore: sql`case when excluded.kind = 'sub' then greatest(${revocations.revokedBefore}, excluded.revoked_before) else ${revocations.revokedBefore} end`,
						expiresAt: sql`greatest(${revocations.expiresAt}, excluded.expires_at)`,
						reason: sql`coalesce(excluded.reason, ${revocations.reason})`,
						updatedAt: sql`now()`,
					},
				})
				// xmax = 0 only on a freshly inserted row: tells 201 from 200.
				.returning({ ...getTableColumns(revocations), created: sql<boolean>`xmax = 0` });
			if (!stored) throw new Error("storing the revocation returned no row");
			const { created: isNew, ...storedRow } = stored;
			return { row: storedRow, created: isNew };
		});
		markRevocationsStale();
		await c.var.events.publish({
			type: "audit.permission_changed",
			subject: `revocations/${row.id}`,
			actor: principal.subject,
			data: {
				principal: kind === "sub" ? `user:${value}` : `token:${value}`,
				action: kind === "sub" ? "sessions.revoked" : "token.revoked",
				after: { kind, value, revoked_before: row.revokedBefore.toISOString(), reason: row.reason },
			},
		});
		const response: RevocationResponse = presentRevocation(row);
		return created ? c.json(response, 201) : c.json(response, 200);
	});
