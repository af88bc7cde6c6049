import type { FaultPoint } from "../../queues/consumers/runner.ts";
import type { CloudEvent } from "../../queues/envelope.ts";
import { dispatchBatch, messageId } from "./support.ts";

/** A small seeded PRNG (mulberry32): the chaos is reproducible from its seed. */
export function seeded(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const POINTS: FaultPoint[] = ["before-transaction", "in-transaction", "after-commit"];

export interface ChaosOptions {
	/** The consumer queue (the dead letters go to its `-dlq`). */
	queue: string;
	bodies: unknown[];
	seed: number;
	/** Share of handler calls (per message delivery) made to fail, at a random point. */
	failureRate: number;
	/** As in wrangler.toml: a message is dead-lettered after max_retries + 1 failed deliveries. */
	maxRetries: number;
	batchSize: number;
	env?: Partial<Env>;
}

export interface ChaosReport {
	/** Messages sent: each body 1 to 3 times. */
	messages: { id: string; body: unknown }[];
	handlerCalls: number;
	injectedFailures: number;
	deadLettered: { id: string; body: unknown }[];
}

/**
 * A Queues broker as the platform behaves, driven through the worker's queue dispatch: every body is sent 1-3
 * times (a producer retrying), messages are delivered in random order and random batches, a retried message
 * comes back later with attempts + 1, and after max_retries + 1 failed deliveries it moves to the
 * dead-letter queue, whose handler records it. Failures are injected through the consumer's test seam.
 */
export async function deliverChaotically(options: ChaosOptions): Promise<ChaosReport> {
	const random = seeded(options.seed);
	const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)] as T;
	const pending: { id: string; body: unknown; attempts: number }[] = [];
	for (const body of options.bodies) {
		const copies = 1 + Math.floor(random() * 3);
		for (let i = 0; i < copies; i++) pending.push({ id: messageId(), body, attempts: 1 });
	}
	const messages = pending.map(({ id, body }) => ({ id, body }));
	for (let i = pending.length - 1; i > 0; i--) {
		const j = Math.floor(random() * (i + 1));
		[pending[i], pending[j]] = [
			pending[j] as (typeof pending)[number],
			pending[i] as (typeof pending)[number],
		];
	}

	const report: ChaosReport = { messages, handlerCalls: 0, injectedFailures: 0, deadLettered: [] };
	while (pending.length > 0) {
		const size = 1 + Math.floor(random() * options.batchSize);
		const batch = pending.splice(0, size);
		// One decision per event per handler call: fail (at a random point) or not.
		const decisions = new Map<string, FaultPoint | null>();
		const faults = (point: FaultPoint, event: CloudEvent) => {
			if (!decisions.has(event.id)) {
				const fail = random() < options.failureRate;
				if (fail) report.injectedFailures++;
				decisions.set(event.id, fail ? pick(POINTS) : null);
			}
			if (decisions.get(event.id) === point) throw new Error(`injected failure at ${point}`);
		};
		const result = await dispatchBatch(options.queue, batch, { faults }, options.env);
		report.handlerCalls++;
		const retried = new Set(result.retryMessages.map((m) => m.msgId));
		const acked = new Set(result.explicitAcks);
		for (const message of batch) {
			if (acked.has(message.id) === retried.has(message.id)) {
				throw new Error(`message ${message.id} was neither acked nor retried exactly once`);
			}
			if (acked.has(message.id)) continue;
			message.attempts++;
			if (message.attempts > options.maxRetries + 1)
				report.deadLettered.push({ id: message.id, body: message.body });
			else pending.splice(Math.floor(random() * (pending.length + 1)), 0, message);
		}
	}
	for (let i = 0; i < report.deadLettered.length; i += 20) {
		const chunk = report.deadLettered.slice(i, i + 20);
		const result = await dispatchBatch(`${options.queue}-dlq`, chunk, undefined, options.env);
		if (result.explicitAcks.length + (result.ackAll ? chunk.length : 0) < chunk.length) {
			throw new Error("the dead-letter consumer did not take every dead letter");
		}
	}
	return report;
}
