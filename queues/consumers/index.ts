import type { ConsumerName } from "../routing.ts";
import { analyticsConsumer } from "./analytics.ts";
import { auditConsumer } from "./audit.ts";
import { cacheConsumer } from "./cache.ts";
import { notificationsConsumer } from "./notifications.ts";
import { type ConsumerOptions, type EventConsumer, runConsumer } from "./runner.ts";
import { webhooksConsumer } from "./webhooks.ts";

/** A queue handler as the worker's `queue` export calls it (the options are a test seam). */
export type QueueBatchHandler = (
	batch: MessageBatch<unknown>,
	env: Env,
	ctx: ExecutionContext,
	options?: ConsumerOptions,
) => Promise<void>;

const exactlyOnce =
	(consumer: EventConsumer): QueueBatchHandler =>
	async (batch, env, ctx, options) => {
		await runConsumer(consumer, batch, env, ctx, options);
	};

/**
 * One handler per route in queues/routing.ts (the `satisfies` makes a route without a handler a type error).
 * A consumer built on `runConsumer` gets exactly-once effects, per-message ack/retry and failure records.
 */
export const CONSUMERS = {
	audit: exactlyOnce(auditConsumer),
	analytics: exactlyOnce(analyticsConsumer),
	notifications: exactlyOnce(notificationsConsumer),
	cache: exactlyOnce(cacheConsumer),
	webhooks: exactlyOnce(webhooksConsumer),
} satisfies Record<ConsumerName, QueueBatchHandler>;
