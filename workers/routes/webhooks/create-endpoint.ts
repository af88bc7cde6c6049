import { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import type { App } from "../../app.ts";
import { strictBody } from "../../cache/index.ts";
import type { Queryable } from "../../db/queries/pagination.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { type WebhookEndpointRow, webhookEndpoints } from "../../db/schema/webhooks.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { decryptSecret, encryptSecret, type Keyring, keyringFrom } from "../../webhooks/encryption.ts";
import { generateSecret } from "../../webhooks/signing.ts";
import {
	assertEndpointUrl,
	checkEventTypes,
	checkScopeFilter,
	EndpointUrlSchema,
	type EndpointWithSecretResponse,
	EndpointWithSecretSchema,
	EventTypesSchema,
	IdempotencyHeaders,
	ownerScopeFor,
	presentEndpoint,
	ScopeFilterSchema,
	sha256Hex,
} from "./schema.ts";

export const CreateEndpointBody = strictBody(
	{
		url: EndpointUrlSchema,
		description: z.string().trim().max(500).optional().openapi({ example: "Settlement system, production" }),
		event_types: EventTypesSchema.optional().openapi({ description: "Default: `covenant.*`" }),
		scope: ScopeFilterSchema.nullable().optional().openapi({
			description:
				"Default: none for an unrestricted partner; your own constraint (e.g. `nations: [KE]` for `partner nation:KE`) for a scoped one",
		}),
		enabled: z.boolean().optional().openapi({ description: "Default: true" }),
	},
	[
		"id",
		"secret",
		"owner",
		"created_at",
		"updated_at",
		"version",
		"failing_since",
		"disabled_at",
		"disabled_reason",
	],
).openapi("CreateWebhookEndpoint");
export type CreateEndpointRequest = z.input<typeof CreateEndpointBody>;

export const route = defineRoute({
	method: "post",
	path: "/v1/webhooks/endpoints",
	tags: ["webhooks"],
	summary: "Register a webhook endpoint (its signing secret is shown once)",
	description:
		"Partners (with an API key or a partner token) and admins register endpoints for themselves. The URL must be https on a public host and the default port (see docs/webhooks.md for every rule); the scope filter must stay within the caller's own scopes. Deliveries are signed per Standard Webhooks with the returned secret.",
	access: { permission: "webhooks:write" },
	request: {
		headers: IdempotencyHeaders,
		body: { required: true, content: { "application/json": { schema: CreateEndpointBody } } },
	},
	responses: {
		201: {
			description: "The endpoint, with its signing secret (only here and at rotation)",
			headers: { Location: { description: "The endpoint's URL", schema: { type: "string" } } },
			content: { "application/json": { schema: EndpointWithSecretSchema } },
		},
		...problemResponses(400, 406, 413, 415, 422),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const principal = c.var.principal;
		const body = c.req.valid("json");
		const url = assertEndpointUrl(c.env, body.url);
		const eventTypes = checkEventTypes(body.event_types);
		const ownerScope = ownerScopeFor(principal);
		const db = c.var.db();
		const scope = await checkScopeFilter(db, ownerScope, body.scope);
		const keyring = await keyringFrom(c.env);

		const idempotencyKey = c.req.valid("header")["idempotency-key"] ?? null;
		const requestHash = await sha256Hex(JSON.stringify({ ...body, url, eventTypes, scope }));
		const id = crypto.randomUUID();
		const secret = generateSecret();
		const now = new Date();

		const result = await inTransaction(db, async (tx) => {
			const [inserted] = await tx
				.insert(webhookEndpoints)
				.values({
					id,
					owner: principal.subject,
					ownerScope,
					url,
					description: body.description ?? "",
					eventTypes,
					scope,
					enabled: body.enabled ?? true,
					disabledReason: body.enabled === false ? "created disabled" : null,
					disabledAt: body.enabled === false ? now : null,
					secretCiphertext: await encryptSecret(keyring, id, secret),
					idempotencyKey,
					requestHash,
					// Millisecond precision, exactly what a listing cursor carries.
					createdAt: now,
					updatedAt: now,
				})
				.onConflictDoNothing({ target: [webhookEndpoints.owner, webhookEndpoints.idempotencyKey] })
				.returning();
			if (inserted) return { row: inserted, secret, replayed: false };
			return replay(tx, keyring, principal.subject, idempotencyKey, requestHash);
		});

		const response: EndpointWithSecretResponse = { ...presentEndpoint(result.row), secret: result.secret };
		const headers: Record<string, string> = {
			location: `/v1/webhooks/endpoints/${result.row.id}`,
			"cache-control": "no-store",
		};
		if (result.replayed) headers["idempotent-replayed"] = "true";
		return c.json(response, 201, headers);
	});

/** The endpoint an earlier request with this Idempotency-Key created, answered again as it was then. */
async function replay(
	tx: Queryable,
	keyring: Keyring,
	owner: string,
	key: string | null,
	hash: string,
): Promise<{ row: WebhookEndpointRow; secret: string; replayed: boolean }> {
	const [earlier] = key
		? await tx
				.select()
				.from(webhookEndpoints)
				.where(and(eq(webhookEndpoints.owner, owner), eq(webhookEndpoints.idempotencyKey, key)))
		: [];
	if (!earlier) throw new Error("webhook endpoint insert returned no row");
	if (earlier.requestHash !== hash) {
		throw new ApiError(
			"idempotency_key_reused",
			"This Idempotency-Key was used for a different request body",
		);
	}
	return {
		row: earlier,
		secret: await decryptSecret(keyring, earlier.id, earlier.secretCiphertext),
		replayed: true,
	};
}
