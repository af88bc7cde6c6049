import { z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import type { App } from "../../app.ts";
import { ifMatchSatisfied, strictBody, writeRequestHeaders } from "../../cache/index.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { webhookEndpoints } from "../../db/schema/webhooks.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import {
	assertEndpointUrl,
	checkEventTypes,
	checkScopeFilter,
	EndpointIdParam,
	type EndpointResponse,
	EndpointSchema,
	EndpointUrlSchema,
	EventTypesSchema,
	endpointEtag,
	findEndpoint,
	ownerScopeFor,
	presentEndpoint,
	ScopeFilterSchema,
} from "./schema.ts";

const READ_ONLY_FIELDS = [
	"id",
	"secret",
	"owner",
	"created_at",
	"updated_at",
	"version",
	"failing_since",
	"disabled_at",
	"disabled_reason",
	"secret_rotated_at",
	"previous_secret_expires_at",
];

export const UpdateEndpointBody = strictBody(
	{
		url: EndpointUrlSchema.optional(),
		description: z.string().trim().max(500).optional(),
		event_types: EventTypesSchema.optional(),
		scope: ScopeFilterSchema.nullable()
			.optional()
			.openapi({ description: "null removes the filter (only for callers who may see everything)" }),
		enabled: z.boolean().optional().openapi({
			description:
				"false pauses deliveries; true re-enables a disabled endpoint and clears its failure streak",
		}),
	},
	READ_ONLY_FIELDS,
)
	.refine((body) => Object.values(body).some((value) => value !== undefined), {
		message: "Send at least one of url, description, event_types, scope, enabled",
	})
	.openapi("UpdateWebhookEndpoint");
export type UpdateEndpointRequest = z.input<typeof UpdateEndpointBody>;
export type UpdateEndpointResponse = EndpointResponse;

export const route = defineRoute({
	method: "patch",
	path: "/v1/webhooks/endpoints/{id}",
	tags: ["webhooks"],
	summary: "Change a webhook endpoint's URL, description, filters or enabled flag",
	description:
		"Re-enabling an endpoint the platform disabled clears its failure streak; messages that failed meanwhile can be re-sent with POST .../recover. Send If-Match with the ETag you read to avoid overwriting a change made elsewhere (412). Sending the current values changes nothing.",
	access: { permission: "webhooks:write" },
	request: {
		params: EndpointIdParam,
		headers: writeRequestHeaders,
		body: { required: true, content: { "application/json": { schema: UpdateEndpointBody } } },
	},
	responses: {
		200: {
			description: "The endpoint after the change",
			headers: { ETag: { description: "The new ETag", schema: { type: "string" } } },
			content: { "application/json": { schema: EndpointSchema } },
		},
		...problemResponses(400, 404, 406, 412, 413, 415, 422),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const principal = c.var.principal;
		const { id } = c.req.valid("param");
		const body = c.req.valid("json");
		const url = body.url === undefined ? undefined : assertEndpointUrl(c.env, body.url);
		const eventTypes = body.event_types === undefined ? undefined : checkEventTypes(body.event_types);

		const row = await inTransaction(c.var.db(), async (tx) => {
			const current = await findEndpoint(tx, principal, id, { lock: true });
			const etag = endpointEtag(current);
			if (!ifMatchSatisfied(c.req.header("if-match"), etag)) {
				throw new ApiError("precondition_failed", "The endpoint has changed since the ETag you sent", {
					headers: { etag },
				});
			}
			const ownerScope = ownerScopeFor(principal, current);
			const scope =
				body.scope === undefined ? current.scope : await checkScopeFilter(tx, ownerScope, body.scope);
			const next = {
				url: url ?? current.url,
				description: body.description ?? current.description,
				eventTypes: eventTypes ?? current.eventTypes,
				scope,
				enabled: body.enabled ?? current.enabled,
				ownerScope,
			};
			const unchanged =
				next.url === current.url &&
				next.description === current.description &&
				JSON.stringify(next.eventTypes) === JSON.stringify(current.eventTypes) &&
				JSON.stringify(next.scope) === JSON.stringify(current.scope) &&
				next.enabled === current.enabled &&
				next.ownerScope === current.ownerScope;
			if (unchanged) return current;
			const reenabled = next.enabled && !current.enabled;
			const paused = !next.enabled && current.enabled;
			const [updated] = await tx
				.update(webhookEndpoints)
				.set({
					...next,
					...(reenabled ? { disabledReason: null, disabledAt: null, failingSince: null } : {}),
					...(paused ? { disabledReason: "paused through the API", disabledAt: sql`now()` } : {}),
					updatedAt: sql`now()`,
					version: sql`${webhookEndpoints.version} + 1`,
				})
				.where(eq(webhookEndpoints.id, current.id))
				.returning();
			if (!updated) throw new Error(`webhook endpoint ${current.id} vanished`);
			return updated;
		});
		const response: UpdateEndpointResponse = presentEndpoint(row);
		return c.json(response, 200, { etag: endpointEtag(row), "cache-control": "no-store" });
	});
