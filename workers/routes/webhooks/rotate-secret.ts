import { z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import type { App } from "../../app.ts";
import { strictBody } from "../../cache/index.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { webhookEndpoints } from "../../db/schema/webhooks.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { decryptSecret, encryptSecret, keyringFrom } from "../../webhooks/encryption.ts";
import { generateSecret } from "../../webhooks/signing.ts";
import {
	EndpointIdParam,
	EndpointSchema,
	endpointEtag,
	findEndpoint,
	IdempotencyHeaders,
	presentEndpoint,
	SecretSchema,
} from "./schema.ts";

export const DEFAULT_GRACE_SECONDS = 24 * 3600;
export const MAX_GRACE_SECONDS = 7 * 24 * 3600;

export const RotateSecretBody = strictBody(
	{
		grace_period_seconds: z
			.number()
			.int()
			.min(0)
			.max(MAX_GRACE_SECONDS)
			.optional()
			.openapi({
				description: `How long deliveries stay signed with the old secret too (default ${DEFAULT_GRACE_SECONDS} s = 24 h; 0 drops it at once)`,
			}),
	},
	[],
).openapi("RotateWebhookSecret");
export type RotateSecretRequest = z.input<typeof RotateSecretBody>;

export const RotatedSecretSchema = z
	.object({
		endpoint: EndpointSchema,
		secret: SecretSchema,
	})
	.openapi("RotatedWebhookSecret");
export type RotatedSecretResponse = z.infer<typeof RotatedSecretSchema>;

export const route = defineRoute({
	method: "post",
	path: "/v1/webhooks/endpoints/{id}/rotate-secret",
	tags: ["webhooks"],
	summary: "Rotate an endpoint's signing secret (the new one is shown once)",
	description:
		"Until the grace period ends, every delivery carries two signatures (`v1,<new> v1,<old>`), so receivers can switch secrets without losing a message. Rotating again during a grace period replaces the old secret with the one being retired. With an Idempotency-Key, a repeated request answers the secret it created instead of rotating twice.",
	access: { permission: "webhooks:write" },
	request: {
		params: EndpointIdParam,
		headers: IdempotencyHeaders,
		body: { required: false, content: { "application/json": { schema: RotateSecretBody } } },
	},
	responses: {
		200: {
			description: "The endpoint and its new secret",
			content: { "application/json": { schema: RotatedSecretSchema } },
		},
		...problemResponses(400, 404, 406, 413, 415, 422),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		const idempotencyKey = c.req.valid("header")["idempotency-key"] ?? null;
		const body = (c.req.valid("json") as RotateSecretRequest | undefined) ?? {};
		const grace = body.grace_period_seconds ?? DEFAULT_GRACE_SECONDS;
		const keyring = await keyringFrom(c.env);

		const result = await inTransaction(c.var.db(), async (tx) => {
			const current = await findEndpoint(tx, c.var.principal, id, { lock: true });
			if (idempotencyKey !== null && current.rotationIdempotencyKey === idempotencyKey) {
				return { row: current, secret: await decryptSecret(keyring, current.id, current.secretCiphertext) };
			}
			const secret = generateSecret();
			const now = new Date();
			const [updated] = await tx
				.update(webhookEndpoints)
				.set({
					secretCiphertext: await encryptSecret(keyring, current.id, secret),
					previousSecretCiphertext: grace > 0 ? current.secretCiphertext : null,
					previousSecretExpiresAt: grace > 0 ? new Date(now.getTime() + grace * 1000) : null,
					secretRotatedAt: now,
					rotationIdempotencyKey: idempotencyKey,
					updatedAt: now,
					version: sql`${webhookEndpoints.version} + 1`,
				})
				.where(eq(webhookEndpoints.id, current.id))
				.returning();
			if (!updated) throw new Error(`webhook endpoint ${current.id} vanished`);
			return { row: updated, secret };
		});
		const response: RotatedSecretResponse = { endpoint: presentEndpoint(result.row), secret: result.secret };
		return c.json(response, 200, { etag: endpointEtag(result.row), "cache-control": "no-store" });
	});
