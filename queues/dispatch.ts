import { CONSUMERS } from "./consumers/index.ts";
import { recordDeadLetters } from "./consumers/dead-letters.ts";
import type { ConsumerOptions } from "./consumers/runner.ts";
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
	const found = routeOfQueue(batch.queue);
	if (!found) {
		console.error(JSON.stringify({ msg: "no consumer for queue; retrying the batch", queue: batch.queue }));
		batch.retryAll();
		return;
	}
	if (found.deadLetter) return recordDeadLetters(batch, env, found.route);
	return CONSUMERS[found.route.consumer as ConsumerName](batch, env, ctx, options);
}
