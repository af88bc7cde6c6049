import { and, eq } from "drizzle-orm";
import { withDb } from "../../workers/db/client.ts";
import { webhookMessages } from "../../workers/db/schema/webhooks.ts";
import { type DeliveryJob, DeliveryJobSchema } from "../../workers/webhooks/delivery-job.ts";
import { type DeliveryOptions, processDelivery } from "../../workers/webhooks/delivery.ts";
import { errorText } from "./runner.ts";

/** A transient failure (Postgres, the keyring) is retried soon; it does not count as an attempt. */
const INFRA_RETRY_SECONDS = 30;

export interface DeliveryBatchOutcome {
	acked: number;
	retried: number;
	failed: number;
}

/**
 * The `covenant-webhook-deliveries` consumer: each job is attempted concurrently with the others of its
 * batch (one slow receiver does not hold the rest beyond its 15 s timeout), then acked, or retried with the
 * delay the schedule (or the receiver's Retry-After) asks for. Never throws: every message is settled on its
 * own.
 */
export async function handleDeliveryBatch(
	batch: MessageBatch<unknown>,
	env: Env,
	options: DeliveryOptions = {},
): Promise<DeliveryBatchOutcome> {
	const outcome: DeliveryBatchOutcome = { acked: 0, retried: 0, failed: 0 };
	try {
		await withDb(env, async (db) => {
			await Promise.all(
				batch.messages.map(async (message) => {
					const job = DeliveryJobSchema.safeParse(message.body);
					if (!job.success) {
						console.error(
							JSON.stringify({ msg: "malformed webhook delivery job dropped", messageId: message.id }),
						);
						message.ack();
						outcome.acked++;
						return;
					}
					try {
						const result = await processDelivery(env, db, job.data, options);
						if (result.action === "ack") {
							message.ack();
							outcome.acked++;
						} else {
							message.retry({ delaySeconds: result.delaySeconds });
							outcome.retried++;
						}
					} catch (error) {
						console.error(
							JSON.stringify({
								msg: "webhook delivery failed",
								messageId: job.data.message_id,
								error: errorText(error),
							}),
						);
						message.retry({ delaySeconds: INFRA_RETRY_SECONDS });
						outcome.failed++;
					}
				}),
			);
		});
	} catch (error) {
		// No connection at all: whatever is not settled yet goes back to the queue.
		console.error(JSON.stringify({ msg: "webhook delivery batch failed", error: errorText(error) }));
		batch.retryAll({ delaySeconds: INFRA_RETRY_SECONDS });
	}
	return outcome;
}

/**
 * The deliveries' dead-letter queue: a job that exhausted the queue's retries (Postgres down for hours) marks
 * its message failed, so it shows in the deliveries list and `recover` re-sends it. Only the job's own
 * dispatch is touched: a newer dispatch (a manual retry since) carries on.
 */
export async function handleDeliveryDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	const jobs = batch.messages
		.map((m) => DeliveryJobSchema.safeParse(m.body))
		.filter((r) => r.success)
		.map((r) => r.data as DeliveryJob);
	try {
		await withDb(env, async (db) => {
			for (const job of jobs) {
				await db
					.update(webhookMessages)
					.set({
						status: "failed",
						failedAt: new Date(),
						updatedAt: new Date(),
						nextAttemptAt: null,
						leaseToken: null,
						leaseUntil: null,
						lastError: "delivery abandoned after the queue's retries were exhausted (internal errors)",
					})
					.where(
						and(
							eq(webhookMessages.id, job.message_id),
							eq(webhookMessages.dispatchId, job.dispatch_id),
							eq(webhookMessages.status, "pending"),
						),
					);
			}
		});
		batch.ackAll();
	} catch (error) {
		console.error(
			JSON.stringify({ msg: "webhook dead letters not recorded; retried", error: errorText(error) }),
		);
		batch.retryAll({ delaySeconds: 60 });
	}
}
