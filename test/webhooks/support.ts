import { inArray } from "drizzle-orm";
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { expect, inject } from "vitest";
import { type CloudEvent, createEvent, type NewEvent } from "../../queues/envelope.ts";
import worker from "../../workers/index.ts";
import { type Database, withDb } from "../../workers/db/client.ts";
import { webhookEndpoints } from "../../workers/db/schema/webhooks.ts";
import type { EndpointWithSecretResponse } from "../../workers/routes/webhooks/schema.ts";
import type { DeliveryJob } from "../../workers/webhooks/delivery-job.ts";
import { tokenFor, uniqueSub } from "../support/auth.ts";
import { call } from "../support/http.ts";

export interface Partner {
	sub: string;
	scope: string;
	headers: Record<string, string>;
}

const subjects: string[] = [];

/** A partner (or admin...) with a fresh subject, authenticated with a token of the given scope. */
export async function partner(scope = "partner", label = "partner"): Promise<Partner> {
	const sub = uniqueSub(label);
	subjects.push(sub);
	return { sub, scope, headers: { authorization: `Bearer ${await tokenFor(scope, { sub })}` } };
}

/**
 * Deletes the endpoints of every partner this test file created (call from afterAll): events other test files
 * publish meanwhile are fanned out to every matching endpoint, so none should outlive its file.
 */
export async function deleteTestEndpoints(): Promise<void> {
	if (subjects.length === 0) return;
	await db((d) => d.delete(webhookEndpoints).where(inArray(webhookEndpoints.owner, subjects)));
}

/**
 * An endpoint URL on the local receiver that answers 200 to everything: tests that are not about delivery use
 * it, so nothing is ever sent outside this machine.
 */
export function sinkUrl(): string {
	return `${inject("webhookReceiverUrl")}/hooks/sink-${crypto.randomUUID()}`;
}

// ---- The local receiver (test/node/webhook-receiver.ts) ------------------------------------------------

export interface ReceivedRequest {
	path: string;
	headers: Record<string, string>;
	body: string;
	status: number;
	received_at: number;
}

/** A mailbox of its own on the local receiver: its URL, its behaviour and what it received. */
export async function mailbox(behaviour: Record<string, unknown> = {}) {
	const base = inject("webhookReceiverUrl");
	const name = `box-${crypto.randomUUID()}`;
	const configure = async (next: Record<string, unknown>) => {
		const response = await fetch(`${base}/control/${name}`, { method: "PUT", body: JSON.stringify(next) });
		expect(response.status).toBe(200);
		await response.arrayBuffer();
	};
	await configure(behaviour);
	return {
		name,
		url: `${base}/hooks/${name}`,
		configure,
		async requests(): Promise<ReceivedRequest[]> {
			const response = await fetch(`${base}/control/${name}/requests`);
			return ((await response.json()) as { requests: ReceivedRequest[] }).requests;
		},
		async forget() {
			await (await fetch(`${base}/control/${name}`, { method: "DELETE" })).arrayBuffer();
		},
	};
}

/** Headers of a received request in the shape the standardwebhooks verifier takes. */
export const webhookHeaders = (request: ReceivedRequest) => ({
	"webhook-id": request.headers["webhook-id"] ?? "",
	"webhook-timestamp": request.headers["webhook-timestamp"] ?? "",
	"webhook-signature": request.headers["webhook-signature"] ?? "",
});

// ---- Endpoints ----------------------------------------------------------------------------------------

export async function createEndpoint(
	as: Partner,
	body: Record<string, unknown>,
	envOverrides: Partial<Env> = {},
): Promise<EndpointWithSecretResponse> {
	const response = await call(
		"/v1/webhooks/endpoints",
		{ method: "POST", headers: as.headers, json: body },
		envOverrides,
	);
	const created = (await response.json()) as EndpointWithSecretResponse;
	expect(response.status, JSON.stringify(created)).toBe(201);
	return created;
}

// ---- Queues, driven by hand ---------------------------------------------------------------------------

/**
 * A deliveries-queue binding that records the jobs sent to it instead of letting the runtime deliver them, so
 * a test decides when each job runs (and can move its message's due time instead of waiting hours).
 */
export function jobRecorder() {
	const jobs: { job: DeliveryJob; delaySeconds?: number }[] = [];
	const record = (body: unknown, delaySeconds?: number) =>
		jobs.push({ job: body as DeliveryJob, delaySeconds });
	const queue = {
		async send(body: unknown, options?: { delaySeconds?: number }) {
			record(body, options?.delaySeconds);
		},
		async sendBatch(messages: Iterable<{ body: unknown; delaySeconds?: number }>) {
			for (const message of messages) record(message.body, message.delaySeconds);
		},
	};
	return { overrides: { WEBHOOK_DELIVERIES: queue } as unknown as Partial<Env>, jobs };
}

/** Builds an event as the producer would. */
export function event(fields: NewEvent): CloudEvent {
	return createEvent(fields, { source: "test/webhooks" });
}

/**
 * Runs the worker's queue handler on one batch, as the runtime would; returns the ack/retry result, with each
 * retried message's `delaySeconds` (which getQueueResult does not report) taken from its `retry` call.
 */
export async function runQueue(
	queue: string,
	bodies: unknown[],
	envOverrides: Partial<Env> = {},
	attempts = 1,
) {
	const batch = createMessageBatch(
		queue,
		bodies.map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts, body })),
	);
	const delays = new Map<string, number | undefined>();
	for (const message of batch.messages) {
		const retry = message.retry.bind(message);
		Object.defineProperty(message, "retry", {
			value: (options?: QueueRetryOptions) => {
				delays.set(message.id, options?.delaySeconds);
				retry(options);
			},
		});
	}
	const ctx = createExecutionContext();
	await worker.queue(batch, { ...env, ...envOverrides } as Env, ctx);
	const result = await getQueueResult(batch, ctx);
	return {
		...result,
		retryMessages: result.retryMessages.map((m) => ({
			...m,
			delaySeconds: m.delaySeconds ?? delays.get(m.msgId),
		})),
	};
}

/** Fans events out through the webhooks consumer; the delivery jobs land in the recorder. */
export async function fanOutEvents(events: CloudEvent[], recorder: ReturnType<typeof jobRecorder>) {
	const result = await runQueue("covenant-webhooks", events, recorder.overrides);
	expect(result.retryMessages, "fan-out retried a message").toEqual([]);
	return result;
}

/** Runs delivery jobs through the worker's queue handler (each job as its own message). */
export async function deliver(jobs: DeliveryJob[], envOverrides: Partial<Env> = {}) {
	return runQueue("covenant-webhook-deliveries", jobs, envOverrides);
}

export function db<T>(fn: (db: Database) => Promise<T>): Promise<T> {
	return withDb(env, fn);
}
