import {
	createExecutionContext,
	createMessageBatch,
	env,
	getQueueResult,
	type QueueResult,
} from "cloudflare:test";
import type { SQL } from "drizzle-orm";
import { CONSUMERS } from "../../queues/consumers/index.ts";
import type { ConsumerOptions } from "../../queues/consumers/runner.ts";
import { handleQueueBatch } from "../../queues/dispatch.ts";
import { type CloudEvent, createEvent, type NewEvent } from "../../queues/envelope.ts";
import type { ConsumerName } from "../../queues/routing.ts";
import { routeOf } from "../../queues/routing.ts";
import { withDb } from "../../workers/db/client.ts";

/** A unique suffix for this test run's rows (tests share one database with every other test file). */
export const runId = () => crypto.randomUUID().slice(0, 8);

/** A validated event, as a producer would build it. */
export function makeEvent(event: NewEvent, source = "covenant-edge/test"): CloudEvent {
	return createEvent(event, { source, requestId: `req-${runId()}` });
}

export interface TestMessage {
	id?: string;
	body: unknown;
	attempts?: number;
}

let messageSeq = 0;
export const messageId = () => `msg-${Date.now().toString(36)}-${++messageSeq}-${runId()}`;

/** Runs one batch through a consumer's handler (as a unit) and returns the ack/retry outcome. */
export async function runBatch(
	consumer: ConsumerName,
	messages: TestMessage[],
	options?: ConsumerOptions,
	envOverrides: Partial<Env> = {},
): Promise<QueueResult> {
	const route = routeOf(consumer);
	if (!route) throw new Error(`no route ${consumer}`);
	const batch = createMessageBatch(
		route.queue,
		messages.map((m) => ({
			id: m.id ?? messageId(),
			timestamp: new Date(),
			attempts: m.attempts ?? 1,
			body: m.body,
		})),
	);
	const ctx = createExecutionContext();
	await CONSUMERS[consumer](batch, { ...env, ...envOverrides }, ctx, options);
	return getQueueResult(batch, ctx);
}

/** Runs one batch through the worker's queue dispatch (by queue name), as the runtime would. */
export async function dispatchBatch(
	queue: string,
	messages: TestMessage[],
	options?: ConsumerOptions,
	envOverrides: Partial<Env> = {},
): Promise<QueueResult> {
	const batch = createMessageBatch(
		queue,
		messages.map((m) => ({
			id: m.id ?? messageId(),
			timestamp: new Date(),
			attempts: m.attempts ?? 1,
			body: m.body,
		})),
	);
	const ctx = createExecutionContext();
	await handleQueueBatch(batch, { ...env, ...envOverrides }, ctx, options);
	return getQueueResult(batch, ctx);
}

/** Runs SQL against the test database from inside workerd. */
export async function query<T extends Record<string, unknown>>(statement: SQL): Promise<T[]> {
	return withDb(env, async (db) => (await db.execute<T>(statement)).rows as T[]);
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
	check: () => Promise<T | undefined>,
	timeoutMs = 20_000,
	what = "condition",
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}
