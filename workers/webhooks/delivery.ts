import { and, eq, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { Tx } from "../../queues/db.ts";
import { type CloudEvent, createEvent } from "../../queues/envelope.ts";
import { drainOutbox, enqueueInTransaction } from "../../queues/outbox.ts";
import type { Database } from "../db/client.ts";
import {
	type AttemptOutcome,
	type WebhookEndpointRow,
	type WebhookMessageRow,
	webhookAttempts,
	webhookEndpoints,
	webhookMessages,
} from "../db/schema/webhooks.ts";
import { type AttemptReport, postMessage } from "./attempt.ts";
import type { DeliveryJob } from "./delivery-job.ts";
import { decryptSecret, encryptSecret, type Keyring, keyringFrom, needsReencryption } from "./encryption.ts";
import { isOwnerEvent, ownerMaySee, TEST_EVENT_TYPE } from "./filters.ts";
import { DISABLE_AFTER_FAILING_MS, nextDelaySeconds, QUEUE_MAX_DELAY_SECONDS } from "./schedule.ts";
import { signMessage } from "./signing.ts";
import { checkEndpointUrl, type UrlPolicy } from "./ssrf.ts";

/** What the queue should do with the job's message. */
export type DeliveryOutcome = { action: "ack" } | { action: "retry"; delaySeconds: number };

const ACK: DeliveryOutcome = { action: "ack" };
/** Held while an attempt runs: longer than the attempt timeout plus the bookkeeping around it. */
export const LEASE_MS = 60_000;
/** A queue message arriving this much before its message is due is early (a duplicate): it waits again. */
const EARLY_TOLERANCE_MS = 2_000;

export interface DeliveryOptions {
	now?: () => Date;
	/** For the retry jitter. */
	random?: () => number;
	timeoutMs?: number;
}

export type DeliveryEnv = Env;

/** The URL policy of this deployment: the localhost allowance never applies in production. */
export function urlPolicy(env: Pick<Env, "ENVIRONMENT" | "WEBHOOKS_ALLOW_LOCALHOST">): UrlPolicy {
	return { allowLocalhost: env.ENVIRONMENT !== "production" && env.WEBHOOKS_ALLOW_LOCALHOST === "true" };
}

/**
 * Runs one delivery job: if its message is due and this job is its live dispatch, attempts it once (under a
 * lease, so two copies of the job never send at the same time), records the attempt, and says when the queue
 * should bring the job back. Throws only on infrastructure failures (Postgres, the keyring): the queue handler
 * retries those without counting an attempt.
 */
export async function processDelivery(
	env: DeliveryEnv,
	db: Database,
	job: DeliveryJob,
	options: DeliveryOptions = {},
): Promise<DeliveryOutcome> {
	const clock = options.now ?? (() => new Date());
	const found = await db
		.select({ message: webhookMessages, endpoint: webhookEndpoints })
		.from(webhookMessages)
		.innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookMessages.endpointId))
		.where(eq(webhookMessages.id, job.message_id))
		.limit(1);
	const row = found[0];
	if (!row || row.message.dispatchId !== job.dispatch_id || row.message.status !== "pending") return ACK;

	const now = clock();
	const due = row.message.nextAttemptAt?.getTime() ?? now.getTime();
	if (due - now.getTime() > EARLY_TOLERANCE_MS) {
		return {
			action: "retry",
			delaySeconds: Math.min(QUEUE_MAX_DELAY_SECONDS, Math.ceil((due - now.getTime()) / 1000)),
		};
	}

	const leaseToken = crypto.randomUUID();
	const claimed = await db
		.update(webhookMessages)
		.set({ leaseToken, leaseUntil: new Date(now.getTime() + LEASE_MS) })
		.where(
			and(
				eq(webhookMessages.id, job.message_id),
				eq(webhookMessages.dispatchId, job.dispatch_id),
				eq(webhookMessages.status, "pending"),
				or(isNull(webhookMessages.leaseUntil), lt(webhookMessages.leaseUntil, now)),
			),
		)
		.returning({ id: webhookMessages.id });
	// Another copy of this job holds the lease: it owns the attempt and the schedule after it.
	if (claimed.length === 0) return ACK;

	try {
		return await attemptAndRecord(env, db, row.message, row.endpoint, leaseToken, { ...options, now: clock });
	} catch (error) {
		await db
			.update(webhookMessages)
			.set({ leaseToken: null, leaseUntil: null })
			.where(and(eq(webhookMessages.id, job.message_id), eq(webhookMessages.leaseToken, leaseToken)))
			.catch(() => {});
		throw error;
	}
}

interface AttemptPlan {
	report: AttemptReport;
	/** A refusal before any request was made (disabled endpoint, visibility, URL policy). */
	refused: boolean;
}

async function attemptAndRecord(
	env: DeliveryEnv,
	db: Database,
	message: WebhookMessageRow,
	endpoint: WebhookEndpointRow,
	leaseToken: string,
	options: DeliveryOptions & { now: () => Date },
): Promise<DeliveryOutcome> {
	const attemptedAt = options.now();
	const refusal = refusalOf(env, message, endpoint);
	let plan: AttemptPlan;
	let keyring: Keyring | undefined;
	if (refusal) {
		plan = {
			refused: true,
			report: { verdict: "rejected", statusCode: null, durationMs: 0, error: refusal, responseExcerpt: null },
		};
	} else {
		keyring = await keyringFrom(env);
		const secrets = await signingSecrets(keyring, endpoint, attemptedAt);
		const signed = await signMessage(secrets, {
			id: message.eventId,
			timestamp: attemptedAt,
			body: message.body,
		});
		const report = await postMessage(endpoint.url, message.body, signed, {
			timeoutMs: options.timeoutMs,
			now: options.now,
		});
		plan = { refused: false, report };
	}

	const { report } = plan;
	const cycleAttempts = message.cycleAttempts + 1;
	let outcome: AttemptOutcome;
	let delaySeconds: number | undefined;
	if (report.verdict === "delivered") outcome = "succeeded";
	else if (report.verdict === "retryable") {
		delaySeconds = nextDelaySeconds(cycleAttempts, report.retryAfterSeconds, options.random);
		outcome = delaySeconds === undefined ? "failed" : "retrying";
	} else outcome = "failed";
	const nextAttemptAt =
		delaySeconds === undefined ? null : new Date(attemptedAt.getTime() + delaySeconds * 1000);
	const error =
		outcome === "failed" && report.verdict === "retryable"
			? `${report.error}; gave up after ${cycleAttempts} attempts`
			: report.error;

	const disabledEvents: CloudEvent[] = [];
	const recorded = await db.transaction(async (tx) => {
		const updated = await tx
			.update(webhookMessages)
			.set({
				status: outcome === "retrying" ? "pending" : outcome,
				attempts: sql`${webhookMessages.attempts} + 1`,
				cycleAttempts,
				nextAttemptAt,
				lastStatusCode: report.statusCode,
				lastError: error,
				leaseToken: null,
				leaseUntil: null,
				updatedAt: attemptedAt,
				deliveredAt: outcome === "succeeded" ? attemptedAt : message.deliveredAt,
				failedAt: outcome === "failed" ? attemptedAt : null,
			})
			.where(and(eq(webhookMessages.id, message.id), eq(webhookMessages.leaseToken, leaseToken)))
			.returning({ attempts: webhookMessages.attempts });
		const attempt = updated[0]?.attempts;
		// The message went away mid-attempt (its endpoint was deleted): nothing left to record.
		if (attempt === undefined) return false;
		await tx.insert(webhookAttempts).values({
			messageId: message.id,
			endpointId: endpoint.id,
			attempt,
			trigger: message.cycleTrigger,
			outcome,
			statusCode: report.statusCode,
			durationMs: report.durationMs,
			error,
			responseExcerpt: report.responseExcerpt,
			attemptedAt,
			nextAttemptAt,
		});
		if (!plan.refused) {
			const disabled = await updateEndpointHealth(tx, endpoint, report, attemptedAt);
			if (disabled) disabledEvents.push(disabled);
		}
		if (keyring) await reencryptIfStale(tx, keyring, endpoint);
		return true;
	});
	if (!recorded) return ACK;

	if (disabledEvents.length > 0) {
		await drainOutbox(env, db, { eventIds: disabledEvents.map((e) => e.id) }).catch((sendError) => {
			console.error(
				JSON.stringify({
					msg: "endpoint-disabled event parked; the sweep sends it",
					endpointId: endpoint.id,
					error: String(sendError),
				}),
			);
		});
	}
	return outcome === "retrying" && delaySeconds !== undefined
		? { action: "retry", delaySeconds: Math.min(delaySeconds, QUEUE_MAX_DELAY_SECONDS) }
		: ACK;
}

/** Why this message must not be sent now, or undefined. Checked at every attempt, not only at fan-out. */
function refusalOf(
	env: DeliveryEnv,
	message: WebhookMessageRow,
	endpoint: WebhookEndpointRow,
): string | undefined {
	// A test message is sent even to a disabled endpoint: it is how a partner checks a fix before re-enabling.
	if (!endpoint.enabled && message.eventType !== TEST_EVENT_TYPE) {
		return `not sent: the endpoint is disabled${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ""}`;
	}
	if (!isOwnerEvent(message.eventType)) {
		const target = {
			nation: message.targetNation ?? undefined,
			sector: message.targetSector ?? undefined,
			region: message.targetRegion ?? undefined,
		};
		if (!ownerMaySee(endpoint.ownerScope, target)) {
			return "not sent: the event is outside what the endpoint's owner may see";
		}
	}
	const verdict = checkEndpointUrl(endpoint.url, urlPolicy(env));
	if (!verdict.ok) return `not sent: the endpoint URL is refused (${verdict.reason})`;
	return undefined;
}

/** The current secret, then the previous one while its grace period lasts. */
export async function signingSecrets(
	keyring: Keyring,
	endpoint: WebhookEndpointRow,
	now: Date,
): Promise<string[]> {
	const secrets = [await decryptSecret(keyring, endpoint.id, endpoint.secretCiphertext)];
	if (
		endpoint.previousSecretCiphertext &&
		endpoint.previousSecretExpiresAt &&
		endpoint.previousSecretExpiresAt.getTime() > now.getTime()
	) {
		secrets.push(await decryptSecret(keyring, endpoint.id, endpoint.previousSecretCiphertext));
	}
	return secrets;
}

/**
 * A success clears the endpoint's failure streak; a failure starts one (or continues it). 410 Gone, or a
 * streak of DISABLE_AFTER_FAILING_MS, disables the endpoint and emits `webhooks.endpoint.disabled` through the
 * transactional outbox (returned so the caller sends it after the commit).
 */
async function updateEndpointHealth(
	tx: Tx,
	endpoint: WebhookEndpointRow,
	report: AttemptReport,
	attemptedAt: Date,
): Promise<CloudEvent | undefined> {
	if (report.verdict === "delivered") {
		await tx
			.update(webhookEndpoints)
			.set({ failingSince: null })
			.where(and(eq(webhookEndpoints.id, endpoint.id), isNotNull(webhookEndpoints.failingSince)));
		return undefined;
	}
	const [state] = await tx
		.update(webhookEndpoints)
		.set({
			failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${attemptedAt.toISOString()}::timestamptz)`,
		})
		.where(eq(webhookEndpoints.id, endpoint.id))
		.returning({ failingSince: webhookEndpoints.failingSince, enabled: webhookEndpoints.enabled });
	if (!state?.enabled) return undefined;
	const failingSince = state.failingSince ?? attemptedAt;
	let reason: "gone" | "failing" | undefined;
	let detail = "";
	if (report.verdict === "gone") {
		reason = "gone";
		detail = "the receiver answered 410 Gone";
	} else if (attemptedAt.getTime() - failingSince.getTime() >= DISABLE_AFTER_FAILING_MS) {
		reason = "failing";
		detail = `every delivery has failed since ${failingSince.toISOString()} (last: ${report.error ?? "no answer"})`;
	}
	if (!reason) return undefined;
	await tx
		.update(webhookEndpoints)
		.set({
			enabled: false,
			disabledReason: detail,
			disabledAt: attemptedAt,
			updatedAt: attemptedAt,
			version: sql`${webhookEndpoints.version} + 1`,
		})
		.where(eq(webhookEndpoints.id, endpoint.id));
	const event = createEvent(
		{
			type: "webhooks.endpoint.disabled",
			subject: `webhooks/endpoints/${endpoint.id}`,
			actor: "webhooks",
			data: {
				endpoint_id: endpoint.id,
				owner: endpoint.owner,
				url: endpoint.url,
				description: endpoint.description,
				reason,
				detail,
				failing_since:
					reason === "failing" ? failingSince.toISOString() : (state.failingSince?.toISOString() ?? null),
				disabled_at: attemptedAt.toISOString(),
			},
		},
		{ source: "covenant-edge/webhooks" },
	);
	await enqueueInTransaction(tx, [event]);
	return event;
}

/** After the encryption key was rotated, secrets still under an old key are re-encrypted as they are used. */
async function reencryptIfStale(tx: Tx, keyring: Keyring, endpoint: WebhookEndpointRow): Promise<void> {
	const stale = needsReencryption(keyring, endpoint.secretCiphertext);
	const previousStale =
		endpoint.previousSecretCiphertext !== null &&
		needsReencryption(keyring, endpoint.previousSecretCiphertext);
	if (!stale && !previousStale) return;
	const current = await decryptSecret(keyring, endpoint.id, endpoint.secretCiphertext);
	const previous = endpoint.previousSecretCiphertext
		? await decryptSecret(keyring, endpoint.id, endpoint.previousSecretCiphertext)
		: null;
	await tx
		.update(webhookEndpoints)
		.set({
			secretCiphertext: await encryptSecret(keyring, endpoint.id, current),
			previousSecretCiphertext:
				previous === null ? null : await encryptSecret(keyring, endpoint.id, previous),
		})
		.where(
			and(
				eq(webhookEndpoints.id, endpoint.id),
				eq(webhookEndpoints.secretCiphertext, endpoint.secretCiphertext),
			),
		);
}
