import { z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import { SECTOR_SLUGS } from "../../../queues/envelope.ts";
import type { Principal } from "../../auth/principal.ts";
import type { Queryable } from "../../db/queries/pagination.ts";
import {
	type WebhookAttemptRow,
	type WebhookEndpointRow,
	type WebhookMessageRow,
	webhookEndpoints,
} from "../../db/schema/webhooks.ts";
import { SERVING_REGIONS } from "../../domain/serving-regions.ts";
import { ApiError, type ProblemIssue } from "../../lib/problem.ts";
import { urlPolicy } from "../../webhooks/delivery.ts";
import {
	DEFAULT_EVENT_FILTERS,
	defaultScopeFilter,
	describeVisibility,
	eventFilterRefusal,
	MAX_EVENT_FILTERS,
	normaliseScopeFilter,
	ownerVisibility,
	type ScopeFilter,
	scopeFilterWithin,
} from "../../webhooks/filters.ts";
import { checkEndpointUrl, MAX_URL_LENGTH } from "../../webhooks/ssrf.ts";

const timestamp = (description: string) => z.string().openapi({ format: "date-time", description });

export const ScopeFilterSchema = z
	.strictObject({
		nations: z
			.array(z.string().regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code, upper case"))
			.max(195)
			.optional()
			.openapi({ example: ["KE", "TZ"] }),
		sectors: z
			.array(z.enum(SECTOR_SLUGS))
			.max(SECTOR_SLUGS.length)
			.optional()
			.openapi({ example: ["energy"] }),
		regions: z
			.array(z.enum(SERVING_REGIONS))
			.max(SERVING_REGIONS.length)
			.optional()
			.openapi({ example: ["jnb"], description: "Serving regions" }),
	})
	.openapi("WebhookScopeFilter", {
		description:
			"Only events about these nations, sectors or serving regions: any value within a list, every list given. Must stay within what your scopes let you see.",
	});

export const EventTypesSchema = z
	.array(z.string().min(1).max(100))
	.min(1)
	.max(MAX_EVENT_FILTERS)
	.openapi({
		example: ["covenant.projects.created", "covenant.payments.*"],
		description:
			"Exact event types, prefixes ending in `.*`, or `*` (GET /v1/webhooks/event-types lists them)",
	});

export const EndpointUrlSchema = z.string().trim().min(1).max(MAX_URL_LENGTH).openapi({
	example: "https://hooks.partner.example.com/covenant",
	description:
		"https, a public host name or address, the default port; no credentials or fragment. Checked again at every delivery",
});

export const EndpointSchema = z
	.object({
		id: z.uuid(),
		url: z.string(),
		description: z.string(),
		event_types: z.array(z.string()),
		scope: ScopeFilterSchema.nullable(),
		enabled: z.boolean(),
		disabled_reason: z.string().nullable().openapi({ description: "Why the endpoint was disabled" }),
		disabled_at: timestamp("When it was disabled").nullable(),
		failing_since: timestamp("First failed delivery since the last success; null when healthy").nullable(),
		secret_rotated_at: timestamp("Last rotation of the signing secret").nullable(),
		previous_secret_expires_at: timestamp(
			"Until when deliveries are also signed with the previous secret (rotation grace period)",
		).nullable(),
		owner: z
			.string()
			.openapi({ description: "The partner (`sub`) the endpoint belongs to", "x-personal-data": true }),
		created_at: timestamp("When it was created"),
		updated_at: timestamp("Last change"),
		version: z.number().int(),
	})
	.openapi("WebhookEndpoint");
export type EndpointResponse = z.infer<typeof EndpointSchema>;

export const SecretSchema = z.string().openapi({
	example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	description:
		"The signing secret (`whsec_` + base64 of 32 random bytes), for the Standard Webhooks verifier. Shown only here: store it now",
});

export const EndpointWithSecretSchema = EndpointSchema.extend({ secret: SecretSchema }).openapi(
	"WebhookEndpointWithSecret",
);
export type EndpointWithSecretResponse = z.infer<typeof EndpointWithSecretSchema>;

export const EndpointIdParam = z.object({
	id: z
		.uuid()
		.openapi({ param: { name: "id", in: "path" }, example: "0b7e2f9c-5d8a-4c1e-9a7b-3f2d1c0e9b8a" }),
});

export const IdempotencyHeaders = z.object({
	"idempotency-key": z.string().min(1).max(200).optional().openapi({
		description: "Repeating a request with the same key repeats its answer instead of acting twice",
	}),
});

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export function presentEndpoint(row: WebhookEndpointRow, now = Date.now()): EndpointResponse {
	const graceActive = row.previousSecretExpiresAt !== null && row.previousSecretExpiresAt.getTime() > now;
	return {
		id: row.id,
		url: row.url,
		description: row.description,
		event_types: row.eventTypes,
		scope: (row.scope ?? null) as EndpointResponse["scope"],
		enabled: row.enabled,
		disabled_reason: row.disabledReason,
		disabled_at: iso(row.disabledAt),
		failing_since: iso(row.failingSince),
		secret_rotated_at: iso(row.secretRotatedAt),
		previous_secret_expires_at: graceActive ? iso(row.previousSecretExpiresAt) : null,
		owner: row.owner,
		created_at: row.createdAt.toISOString(),
		updated_at: row.updatedAt.toISOString(),
		version: row.version,
	};
}

export const endpointEtag = (row: WebhookEndpointRow) => `"whe-${row.id}-v${row.version}"`;

/** Admins manage every endpoint; a partner only its own. Others' endpoints are 404, never 403 (no probing). */
export function ownerCondition(principal: Principal) {
	return principal.isAdmin ? undefined : eq(webhookEndpoints.owner, principal.subject);
}

/** Loads an endpoint the caller may see or manage (row-locked with `lock`, inside a transaction). */
export async function findEndpoint(
	db: Queryable,
	principal: Principal,
	id: string,
	options: { lock?: boolean } = {},
): Promise<WebhookEndpointRow> {
	const owner = ownerCondition(principal);
	const query = db
		.select()
		.from(webhookEndpoints)
		.where(owner ? and(eq(webhookEndpoints.id, id), owner) : eq(webhookEndpoints.id, id));
	const [row] = options.lock ? await query.for("update") : await query;
	if (!row) throw new ApiError("not_found", `No webhook endpoint '${id}' that you can manage`);
	return row;
}

/** Refuses an endpoint URL the SSRF guard rejects: 422 naming the reason. */
export function assertEndpointUrl(env: Env, url: string): string {
	const verdict = checkEndpointUrl(url, urlPolicy(env));
	if (!verdict.ok) {
		throw new ApiError("unprocessable", `The endpoint URL is refused: ${verdict.reason}`, {
			errors: [{ path: ["url"], message: verdict.reason, code: "url_refused" }],
		});
	}
	return verdict.url.toString();
}

/** Validates event-type filters (400 listing each unknown one); returns them deduplicated. */
export function checkEventTypes(filters: readonly string[] | undefined): string[] {
	const list = [...new Set(filters ?? DEFAULT_EVENT_FILTERS)];
	const errors: ProblemIssue[] = [];
	list.forEach((filter, index) => {
		const refusal = eventFilterRefusal(filter);
		if (refusal) errors.push({ path: ["event_types", index], message: refusal, code: "unknown_event_type" });
	});
	if (errors.length > 0) {
		throw new ApiError("invalid_request", "Some event types are not ones partners can receive", { errors });
	}
	return list;
}

/**
 * The scope filter to store: the one asked for (normalised), or, when none is given, the owner's own
 * visibility. 403 when it reaches beyond what the owner may see; 422 when a nation does not exist.
 */
export async function checkScopeFilter(
	db: Queryable,
	ownerScope: string,
	requested: ScopeFilter | null | undefined,
): Promise<ScopeFilter | null> {
	const visibility = ownerVisibility(ownerScope);
	let filter: ScopeFilter | null;
	if (requested === undefined) {
		const fallback = defaultScopeFilter(visibility);
		if (fallback === undefined) {
			throw new ApiError(
				"unprocessable",
				`Your scopes limit what you may receive (${describeVisibility(visibility)}); set a scope filter within them`,
				{ errors: [{ path: ["scope"], message: "required for your scopes", code: "scope_required" }] },
			);
		}
		filter = fallback;
	} else filter = normaliseScopeFilter(requested);
	if (!scopeFilterWithin(filter, visibility)) {
		throw new ApiError(
			"forbidden",
			`The scope filter reaches beyond what your scopes let you see (${describeVisibility(visibility)})`,
			{
				errors: [
					{
						path: ["scope"],
						message: `limit nations, sectors or regions to ${describeVisibility(visibility)}`,
						code: "scope_escalation",
					},
				],
			},
		);
	}
	if (filter?.nations && filter.nations.length > 0) {
		const found = await db.execute<{ iso2: string }>(
			sql`select iso2 from nations where iso2 = any(${sql.param(filter.nations)}::text[])`,
		);
		const known = new Set(found.rows.map((r) => r.iso2));
		const unknown = filter.nations.filter((n) => !known.has(n));
		if (unknown.length > 0) {
			throw new ApiError("unprocessable", `Unknown nations: ${unknown.join(", ")}`, {
				errors: unknown.map((n) => ({
					path: ["scope", "nations"],
					message: `no nation ${n}`,
					code: "unknown_nation",
				})),
			});
		}
	}
	return filter;
}

/** The scope deliveries are checked against: the caller's own when it is the owner, else kept as it was. */
export function ownerScopeFor(principal: Principal, endpoint?: WebhookEndpointRow): string {
	if (!endpoint || endpoint.owner === principal.subject) return principal.scope;
	return endpoint.ownerScope;
}

export async function sha256Hex(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- Messages and deliveries --------------------------------------------------------------------------

export const MessageSchema = z
	.object({
		id: z.uuid().openapi({ description: "The message: one event on its way to one endpoint" }),
		endpoint_id: z.uuid(),
		event_id: z
			.string()
			.openapi({ description: "Sent as `webhook-id`: the same on every attempt and re-send" }),
		event_type: z.string(),
		status: z.enum(["pending", "succeeded", "failed"]).openapi({
			description:
				"pending: an attempt is scheduled; succeeded: a 2xx was received; failed: no further attempt",
		}),
		attempts: z.number().int(),
		next_attempt_at: timestamp("When the next attempt is due (pending only)").nullable(),
		last_status_code: z.number().int().nullable(),
		last_error: z.string().nullable(),
		created_at: timestamp("When the event was fanned out to the endpoint"),
		delivered_at: timestamp("When it was first delivered").nullable(),
		failed_at: timestamp("When it was marked failed").nullable(),
	})
	.openapi("WebhookMessage");
export type MessageResponse = z.infer<typeof MessageSchema>;

export function presentMessage(row: WebhookMessageRow): MessageResponse {
	return {
		id: row.id,
		endpoint_id: row.endpointId,
		event_id: row.eventId,
		event_type: row.eventType,
		status: row.status,
		attempts: row.attempts,
		next_attempt_at: row.status === "pending" ? iso(row.nextAttemptAt) : null,
		last_status_code: row.lastStatusCode,
		last_error: row.lastError,
		created_at: row.createdAt.toISOString(),
		delivered_at: iso(row.deliveredAt),
		failed_at: iso(row.failedAt),
	};
}

export const DeliverySchema = z
	.object({
		id: z.uuid(),
		message_id: z.uuid(),
		event_id: z.string(),
		event_type: z.string(),
		attempt: z.number().int().openapi({ description: "1 for the first attempt of the message" }),
		trigger: z.enum(["event", "test", "retry", "recover"]).openapi({
			description: "What started the attempt's cycle: the event, a test send, a manual retry or a recovery",
		}),
		status: z.enum(["succeeded", "retrying", "failed"]).openapi({
			description:
				"succeeded; retrying (another attempt is scheduled at next_attempt_at); failed (no further attempt)",
		}),
		response_status: z.number().int().nullable().openapi({ description: "null when no response came" }),
		duration_ms: z.number().int(),
		error: z.string().nullable(),
		response_excerpt: z
			.string()
			.nullable()
			.openapi({ description: "The first kilobyte of the response body" }),
		attempted_at: timestamp("When the attempt started"),
		next_attempt_at: timestamp("When the next attempt is due").nullable(),
	})
	.openapi("WebhookDelivery");
export type DeliveryResponse = z.infer<typeof DeliverySchema>;

export function presentDelivery(
	attempt: WebhookAttemptRow,
	message: Pick<WebhookMessageRow, "eventId" | "eventType">,
): DeliveryResponse {
	return {
		id: attempt.id,
		message_id: attempt.messageId,
		event_id: message.eventId,
		event_type: message.eventType,
		attempt: attempt.attempt,
		trigger: attempt.trigger as DeliveryResponse["trigger"],
		status: attempt.outcome,
		response_status: attempt.statusCode,
		duration_ms: attempt.durationMs,
		error: attempt.error,
		response_excerpt: attempt.responseExcerpt,
		attempted_at: attempt.attemptedAt.toISOString(),
		next_attempt_at: iso(attempt.nextAttemptAt),
	};
}
