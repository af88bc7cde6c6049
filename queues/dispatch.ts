import { recordDeadLetters } from "./consumers/dead-letters.ts";
import { CONSUMERS } from "./consumers/index.ts";
import type { ConsumerOptions } from "./consumers/runner.ts";
import { handleDeliveryBatch, handleDeliveryDeadLetters } from "./consumers/webhook-deliveries.ts";
import { type ConsumerName, routeOfQueue } from "./routing.ts";

/**
 * The worker's `queue` handler: dispatches a batch by queue name to its consumer, or to the dead-letter
 * recorder for a consumer's dead-letter queue. A batch from a queue no route names is retried (and so ends in
 * that queue's dead-letter queue, if it has one) rather than acknowledged unread.
 */
export async function handleQueueBatch(
	batch: MessageBatch<unknown>,
	env: Env,
	ctx: ExecutionContext,
	options?: ConsumerOptions,
): Promise<void> {
	// Webhook delivery jobs are not events: their queue and its dead-letter queue have their own handlers.
	if (batch.queue === "covenant-webhook-deliveries") return void (await handleDeliveryBatch(batch, env));
	if (batch.queue === "covenant-webhook-deliveries-dlq") return handleDeliveryDeadLetters(batch, env);
	const found = routeOfQueue(batch.queue);
	if (!found) {
		console.error(JSON.stringify({ msg: "no consumer for queue; retrying the batch", queue: batch.queue }));
		batch.retryAll();
		return;
	}
	if (found.deadLetter) return recordDeadLetters(batch, env, found.route);
	return CONSUMERS[found.route.consumer as ConsumerName](batch, env, ctx, options);
}
