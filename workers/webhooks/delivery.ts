import { and, eq, inArray, sql } from "drizzle-orm";
import type { Tx } from "../../queues/db.ts";
import { textArray } from "../../queues/db.ts";
import { type CloudEvent, createEvent } from "../../queues/envelope.ts";
import { drainOutbox, enqueueInTransaction } from "../../queues/outbox.ts";
import type { Database } from "../db/client.ts";
import {
	type AttemptOutcome,
	type MessageStatus,
	type WebhookEndpointRow,
	type WebhookMessageRow,
	webhookEndpoints,
	webhookMessages,
} from "../db/schema/webhooks.ts";
import { type AttemptReport, postMessage } from "./attempt.ts";
import type { DeliveryJob } from "./delivery-job.ts";
import { decryptSecret, encryptSecret, type Keyring, keyringFrom, needsReencryption } from "./encryption.ts";
import { isOwnerEvent, ownerMaySee, TEST_EVENT_TYPE } from "./filters.ts";
import { DISABLE_AFTER_FAILING_MS, nextDelaySeconds, QUEUE_MAX_DELAY_SECONDS } from "./schedule.ts";
import { importSigningKey, signMessage } from "./signing.ts";
import { checkEndpointUrl, type UrlPolicy } from "./ssrf.ts";

/** What the queue should do with a job. */
export type DeliveryOutcome = { action: "ack" } | { action: "retry"; delaySeconds: number };

const ACK: DeliveryOutcome = { action: "ack" };
/** Held while a batch's attempts run: longer than the attempt timeout plus the bookkeeping around it. */
export const LEASE_SECONDS = 60;
/** A job arriving this much before its message is due is early (a duplicate copy): it waits again. */
const EARLY_TOLERANCE_MS = 2_000;
/** A job whose attempt could not even be prepared (a secret that does not decrypt) comes back after this. */
const INFRA_RETRY_SECONDS = 30;

export interface DeliveryOptions {
	now?: () => Date;
	/** For the retry jitter. */
	random?: () => number;
	timeoutMs?: number;
}

/** The URL policy of this deployment: the localhost allowance never applies in production. */
export function urlPolicy(env: Pick<Env, "ENVIRONMENT" | "WEBHOOKS_ALLOW_LOCALHOST">): UrlPolicy {
	return { allowLocalhost: env.ENVIRONMENT !== "production" && env.WEBHOOKS_ALLOW_LOCALHOST === "true" };
}

/** One job's delivery: {@link processDeliveries} for a single job (the test-send route uses it). */
export async function processDelivery(
	env: Env,
	db: Database,
	job: DeliveryJob,
	options: DeliveryOptions = {},
): Promise<DeliveryOutcome> {
	const [outcome] = await processDeliveries(env, db, [job], options);
	return outcome ?? ACK;
}

interface Claimed {
	message: WebhookMessageRow;
	endpoint: WebhookEndpointRow;
}

interface Attempted extends Claimed {
	report: AttemptReport;
	/** Refused before any request (disabled endpoint, visibility, URL policy): not the receiver's failure. */
	refused: boolean;
	outcome: AttemptOutcome;
	delaySeconds?: number;
	nextAttemptAt: Date | null;
	error: string | null;
	attemptedAt: Date;
}

/**
 * Runs a batch of delivery jobs in a constant number of round trips to Postgres: one statement claims every
 * job that is due and is its message's live dispatch (under one lease token, so no two copies of a job ever
 * send at the same time), the HTTP attempts run concurrently, and one transaction records every attempt and
 * the endpoints' health. Returns, per job in order, whether the queue should ack it or bring it back (and
 * when). Throws only when Postgres or the keyring (WEBHOOK_SECRETS_KEY) fails: the handler then retries the
 * batch, no attempt having been counted.
 */
export async function processDeliveries(
	env: Env,
	db: Database,
	jobs: readonly DeliveryJob[],
	options: DeliveryOptions = {},
): Promise<DeliveryOutcome[]> {
	const clock = options.now ?? (() => new Date());
	const outcomes = new Array<DeliveryOutcome>(jobs.length).fill(ACK);
	// Two copies of one job in a batch: the first stands for both.
	const firstIndex = new Map<string, number>();
	jobs.forEach((job, index) => {
		if (!firstIndex.has(job.message_id)) firstIndex.set(job.message_id, index);
	});
	const unique = [...firstIndex.keys()].map((id) => jobs[firstIndex.get(id) as number] as DeliveryJob);
	if (unique.length === 0) return outcomes;

	const now = clock();
	const leaseToken = crypto.randomUUID();
	const claimedIds = await claim(db, unique, leaseToken, now);
	const unclaimed = unique.filter((job) => !claimedIds.has(job.message_id));
	for (const [messageId, outcome] of await whyUnclaimed(db, unclaimed, now)) {
		outcomes[firstIndex.get(messageId) as number] = outcome;
	}
	if (claimedIds.size === 0) return outcomes;

	const claimed = await db
		.select({ message: webhookMessages, endpoint: webhookEndpoints })
		.from(webhookMessages)
		.innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookMessages.endpointId))
		.where(and(inArray(webhookMessages.id, [...claimedIds]), eq(webhookMessages.leaseToken, leaseToken)));

	const keyring = await keyringFrom(env);
	const secrets = new SecretCache(keyring, clock());
	const settled = await Promise.all(
		claimed.map(async (row) => {
			try {
				return await attempt(env, row, secrets, { ...options, now: clock });
			} catch (error) {
				// Nothing was sent (the secret did not decrypt): not an attempt; the lease is released below.
				console.error(
					JSON.stringify({
						msg: "webhook attempt not prepared",
						messageId: row.message.id,
						error: String(error),
					}),
				);
				return row.message.id;
			}
		}),
	);
	const attempted = settled.filter((s): s is Attempted => typeof s !== "string");
	const unprepared = settled.filter((s): s is string => typeof s === "string");

	const disabled = await record(db, attempted, unprepared, leaseToken, keyring);
	if (disabled.length > 0) {
		await drainOutbox(env, db, { eventIds: disabled.map((e) => e.id) }).catch((error) => {
			console.error(
				JSON.stringify({ msg: "endpoint-disabled event parked; the sweep sends it", error: String(error) }),
			);
		});
	}
	for (const result of attempted) {
		if (result.outcome === "retrying" && result.delaySeconds !== undefined) {
			outcomes[firstIndex.get(result.message.id) as number] = {
				action: "retry",
				delaySeconds: Math.min(result.delaySeconds, QUEUE_MAX_DELAY_SECONDS),
			};
		}
	}
	for (const messageId of unprepared) {
		outcomes[firstIndex.get(messageId) as number] = { action: "retry", delaySeconds: INFRA_RETRY_SECONDS };
	}
	return outcomes;
}

/** Leases every job that is its message's live dispatch, pending, due, and not leased by another batch. */
async function claim(db: Database, jobs: DeliveryJob[], leaseToken: string, now: Date): Promise<Set<string>> {
	const claimed = await db.execute<{ id: string }>(sql`
		update webhook_messages m
		set lease_token = ${leaseToken}::uuid,
			lease_until = ${now.toISOString()}::timestamptz + make_interval(secs => ${LEASE_SECONDS})
		from unnest(${textArray(jobs.map((j) => j.message_id))}::uuid[], ${textArray(jobs.map((j) => j.dispatch_id))}::uuid[])
			as j(id, dispatch_id)
		where m.id = j.id and m.dispatch_id = j.dispatch_id and m.status = 'pending'
			and coalesce(m.next_attempt_at, ${now.toISOString()}::timestamptz)
				<= ${now.toISOString()}::timestamptz + make_interval(secs => ${EARLY_TOLERANCE_MS / 1000})
			and (m.lease_until is null or m.lease_until < ${now.toISOString()}::timestamptz)
		returning m.id::text as id`);
	return new Set(claimed.rows.map((r) => r.id));
}

/**
 * What to do with the jobs that were not claimed: an early copy waits until its message is due; a copy that
 * finds the lease held (an attempt in flight, or a batch that crashed before recording) comes back when the
 * lease ends; a stale copy (another dispatch, a settled message, a deleted endpoint) is acknowledged.
 */
async function whyUnclaimed(
	db: Database,
	jobs: DeliveryJob[],
	now: Date,
): Promise<Map<string, DeliveryOutcome>> {
	const outcomes = new Map<string, DeliveryOutcome>();
	if (jobs.length === 0) return outcomes;
	const rows = await db
		.select({
			id: webhookMessages.id,
			dispatchId: webhookMessages.dispatchId,
			status: webhookMessages.status,
			nextAttemptAt: webhookMessages.nextAttemptAt,
			leaseUntil: webhookMessages.leaseUntil,
		})
		.from(webhookMessages)
		.where(
			inArray(
				webhookMessages.id,
				jobs.map((j) => j.message_id),
			),
		);
	const byId = new Map(rows.map((r) => [r.id, r]));
	const later = (at: number) => ({
		action: "retry" as const,
		delaySeconds: Math.max(1, Math.min(QUEUE_MAX_DELAY_SECONDS, Math.ceil((at - now.getTime()) / 1000))),
	});
	for (const job of jobs) {
		const row = byId.get(job.message_id);
		if (!row || row.dispatchId !== job.dispatch_id || row.status !== "pending") {
			outcomes.set(job.message_id, ACK);
			continue;
		}
		const due = row.nextAttemptAt?.getTime() ?? 0;
		const leasedUntil = row.leaseUntil?.getTime() ?? 0;
		if (due - now.getTime() > EARLY_TOLERANCE_MS) outcomes.set(job.message_id, later(due));
		else if (leasedUntil > now.getTime()) outcomes.set(job.message_id, later(leasedUntil + 1000));
		// Live, due and free, yet not claimed: it changed hands between the two reads. Look again shortly.
		else outcomes.set(job.message_id, later(now.getTime() + 1000));
	}
	return outcomes;
}

/** Each endpoint's secrets decrypted and imported as signing keys once per batch (never kept longer). */
class SecretCache {
	readonly #keyring: Keyring;
	readonly #now: Date;
	readonly #byEndpoint = new Map<string, Promise<CryptoKey[]>>();
	constructor(keyring: Keyring, now: Date) {
		this.#keyring = keyring;
		this.#now = now;
	}
	for(endpoint: WebhookEndpointRow): Promise<CryptoKey[]> {
		let keys = this.#byEndpoint.get(endpoint.id);
		if (!keys) {
			keys = signingSecrets(this.#keyring, endpoint, this.#now).then((secrets) =>
				Promise.all(secrets.map(importSigningKey)),
			);
			this.#byEndpoint.set(endpoint.id, keys);
		}
		return keys;
	}
}

/** Refuses, or signs and sends, one claimed message; never throws for anything the receiver does. */
async function attempt(
	env: Env,
	{ message, endpoint }: Claimed,
	secrets: SecretCache,
	options: DeliveryOptions & { now: () => Date },
): Promise<Attempted> {
	const attemptedAt = options.now();
	const refusal = refusalOf(env, message, endpoint);
	let report: AttemptReport;
	if (refusal) {
		report = { verdict: "rejected", statusCode: null, durationMs: 0, error: refusal, responseExcerpt: null };
	} else {
		const signed = await signMessage(await secrets.for(endpoint), {
			id: message.eventId,
			timestamp: attemptedAt,
			body: message.body,
		});
		report = await postMessage(endpoint.url, message.body, signed, {
			timeoutMs: options.timeoutMs,
			now: options.now,
		});
	}
	const cycleAttempts = message.cycleAttempts + 1;
	let outcome: AttemptOutcome = "failed";
	let delaySeconds: number | undefined;
	if (report.verdict === "delivered") outcome = "succeeded";
	else if (report.verdict === "retryable") {
		delaySeconds = nextDelaySeconds(cycleAttempts, report.retryAfterSeconds, options.random);
		if (delaySeconds !== undefined) outcome = "retrying";
	}
	return {
		message,
		endpoint,
		report,
		refused: refusal !== undefined,
		outcome,
		delaySeconds,
		nextAttemptAt: delaySeconds === undefined ? null : new Date(attemptedAt.getTime() + delaySeconds * 1000),
		error:
			outcome === "failed" && report.verdict === "retryable"
				? `${report.error}; gave up after ${cycleAttempts} attempts`
				: report.error,
		attemptedAt,
	};
}

/** Why this message must not be sent now, or undefined. Checked at every attempt, not only at fan-out. */
function refusalOf(env: Env, message: WebhookMessageRow, endpoint: WebhookEndpointRow): string | undefined {
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
 * One transaction for the whole batch: every message's new state and its attempt row (one statement), the
 * lease of unprepared jobs released, the endpoints' failure streaks, the disabling of endpoints that answered
 * 410 or have failed for DISABLE_AFTER_FAILING_MS (with their `webhooks.endpoint.disabled` event in the
 * outbox, returned to be sent after the commit), and secrets re-encrypted after an encryption-key rotation.
 */
async function record(
	db: Database,
	attempted: Attempted[],
	unprepared: string[],
	leaseToken: string,
	keyring: Keyring,
): Promise<CloudEvent[]> {
	return db.transaction(async (tx) => {
		if (attempted.length > 0) {
			const rows = attempted.map((a) => ({
				id: a.message.id,
				endpoint_id: a.endpoint.id,
				status: (a.outcome === "retrying" ? "pending" : a.outcome) satisfies MessageStatus,
				outcome: a.outcome,
				cycle_attempts: a.message.cycleAttempts + 1,
				trigger: a.message.cycleTrigger,
				next_attempt_at: a.nextAttemptAt?.toISOString() ?? null,
				status_code: a.report.statusCode,
				duration_ms: a.report.durationMs,
				error: a.error,
				excerpt: a.report.responseExcerpt,
				attempted_at: a.attemptedAt.toISOString(),
			}));
			// A message whose endpoint was deleted meanwhile is gone (cascade): it simply matches nothing here.
			await tx.execute(sql`
				with input as (
					select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(
						id uuid, endpoint_id uuid, status text, outcome text, cycle_attempts int, trigger text,
						next_attempt_at timestamptz, status_code int, duration_ms int, error text, excerpt text,
						attempted_at timestamptz)
				),
				updated as (
					update webhook_messages m set
						status = input.status,
						attempts = m.attempts + 1,
						cycle_attempts = input.cycle_attempts,
						next_attempt_at = input.next_attempt_at,
						last_status_code = input.status_code,
						last_error = input.error,
						lease_token = null,
						lease_until = null,
						updated_at = input.attempted_at,
						delivered_at = case when input.outcome = 'succeeded'
							then coalesce(m.delivered_at, input.attempted_at) else m.delivered_at end,
						failed_at = case when input.outcome = 'failed' then input.attempted_at end
					from input
					where m.id = input.id and m.lease_token = ${leaseToken}::uuid
					returning m.id, m.attempts
				)
				insert into webhook_attempts (message_id, endpoint_id, attempt, trigger, outcome, status_code,
					duration_ms, error, response_excerpt, attempted_at, next_attempt_at)
				select input.id, input.endpoint_id, updated.attempts, input.trigger, input.outcome, input.status_code,
					input.duration_ms, input.error, input.excerpt, input.attempted_at, input.next_attempt_at
				from input join updated on updated.id = input.id`);
		}
		if (unprepared.length > 0) {
			await tx
				.update(webhookMessages)
				.set({ leaseToken: null, leaseUntil: null })
				.where(and(inArray(webhookMessages.id, unprepared), eq(webhookMessages.leaseToken, leaseToken)));
		}
		const disabled = await updateEndpointHealth(
			tx,
			attempted.filter((a) => !a.refused),
		);
		for (const endpoint of new Map(attempted.map((a) => [a.endpoint.id, a.endpoint])).values()) {
			await reencryptIfStale(tx, keyring, endpoint);
		}
		return disabled;
	});
}

interface Health {
	endpoint: WebhookEndpointRow;
	succeeded: boolean;
	gone: boolean;
	firstFailureAt?: Date;
	lastError?: string | null;
}

/**
 * A success clears an endpoint's failure streak; a failure starts one (or continues it). 410 Gone, or a
 * streak of DISABLE_AFTER_FAILING_MS, disables the endpoint and emits `webhooks.endpoint.disabled` through the
 * transactional outbox.
 */
async function updateEndpointHealth(tx: Tx, attempts: Attempted[]): Promise<CloudEvent[]> {
	const byEndpoint = new Map<string, Health>();
	for (const a of attempts) {
		const health = byEndpoint.get(a.endpoint.id) ?? { endpoint: a.endpoint, succeeded: false, gone: false };
		if (a.report.verdict === "delivered") health.succeeded = true;
		else {
			if (a.report.verdict === "gone") health.gone = true;
			if (!health.firstFailureAt || a.attemptedAt < health.firstFailureAt)
				health.firstFailureAt = a.attemptedAt;
			health.lastError = a.report.error;
		}
		byEndpoint.set(a.endpoint.id, health);
	}
	const all = [...byEndpoint.values()];
	const healthy = all.filter((h) => h.succeeded && !h.gone).map((h) => h.endpoint.id);
	const failing = all.filter((h) => !h.succeeded || h.gone);
	if (healthy.length > 0) {
		await tx.execute(sql`
			update webhook_endpoints set failing_since = null
			where id = any(${textArray(healthy)}::uuid[]) and failing_since is not null`);
	}
	if (failing.length === 0) return [];
	const streaks = await tx.execute<{ id: string; failing_since_ms: number; enabled: boolean }>(sql`
		update webhook_endpoints e set failing_since = coalesce(e.failing_since, f.since)
		from unnest(
			${textArray(failing.map((h) => h.endpoint.id))}::uuid[],
			${textArray(failing.map((h) => (h.firstFailureAt ?? new Date()).toISOString()))}::timestamptz[]
		) as f(id, since)
		where e.id = f.id
		returning e.id::text as id, (extract(epoch from e.failing_since) * 1000)::float8 as failing_since_ms, e.enabled`);
	const events: CloudEvent[] = [];
	for (const streak of streaks.rows) {
		const health = byEndpoint.get(streak.id);
		if (!health || !streak.enabled) continue;
		const failingSince = new Date(Number(streak.failing_since_ms));
		const at = health.firstFailureAt ?? new Date();
		let reason: "gone" | "failing" | undefined;
		let detail = "";
		if (health.gone) {
			reason = "gone";
			detail = "the receiver answered 410 Gone";
		} else if (at.getTime() - failingSince.getTime() >= DISABLE_AFTER_FAILING_MS) {
			reason = "failing";
			detail = `every delivery has failed since ${failingSince.toISOString()} (last: ${health.lastError ?? "no answer"})`;
		}
		if (reason) events.push(await disableEndpoint(tx, health.endpoint, reason, detail, failingSince, at));
	}
	return events;
}

async function disableEndpoint(
	tx: Tx,
	endpoint: WebhookEndpointRow,
	reason: "gone" | "failing",
	detail: string,
	failingSince: Date,
	at: Date,
): Promise<CloudEvent> {
	await tx
		.update(webhookEndpoints)
		.set({
			enabled: false,
			disabledReason: detail,
			disabledAt: at,
			updatedAt: at,
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
				failing_since: failingSince.toISOString(),
				disabled_at: at.toISOString(),
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
