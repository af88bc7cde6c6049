import { and, eq } from "drizzle-orm";
import { withDb } from "../../workers/db/client.ts";
import { webhookMessages } from "../../workers/db/schema/webhooks.ts";
import { type DeliveryJob, DeliveryJobSchema } from "../../workers/webhooks/delivery-job.ts";
import { type DeliveryOptions, processDeliveries } from "../../workers/webhooks/delivery.ts";
import { errorText } from "./runner.ts";

/** A transient failure (Postgres, the keyring) is retried soon; it does not count as an attempt. */
const INFRA_RETRY_SECONDS = 30;

export interface DeliveryBatchOutcome {
	acked: number;
	retried: number;
	failed: number;
}

/**
 * The `covenant-webhook-deliveries` consumer: the batch's jobs are claimed, attempted concurrently (one slow
 * receiver holds the batch at most its 15 s timeout) and recorded together (workers/webhooks/delivery.ts);
 * each is then acked, or retried with the delay the schedule (or the receiver's Retry-After) asks for. If
 * Postgres fails, the whole batch comes back later with no attempt counted. Never throws.
 */
export async function handleDeliveryBatch(
	batch: MessageBatch<unknown>,
	env: Env,
	options: DeliveryOptions = {},
): Promise<DeliveryBatchOutcome> {
	const outcome: DeliveryBatchOutcome = { acked: 0, retried: 0, failed: 0 };
	const valid: { message: Message<unknown>; job: DeliveryJob }[] = [];
	for (const message of batch.messages) {
		const job = DeliveryJobSchema.safeParse(message.body);
		if (job.success) valid.push({ message, job: job.data });
		else {
			console.error(JSON.stringify({ msg: "malformed webhook delivery job dropped", messageId: message.id }));
			message.ack();
			outcome.acked++;
		}
	}
	if (valid.length === 0) return outcome;
	try {
		const results = await withDb(env, (db) =>
			processDeliveries(
				env,
				db,
				valid.map((v) => v.job),
				options,
			),
		);
		valid.forEach(({ message }, index) => {
			const result = results[index];
			if (!result || result.action === "ack") {
				message.ack();
				outcome.acked++;
			} else {
				message.retry({ delaySeconds: result.delaySeconds });
				outcome.retried++;
			}
		});
	} catch (error) {
		console.error(JSON.stringify({ msg: "webhook delivery batch failed; retried", error: errorText(error) }));
		for (const { message } of valid) message.retry({ delaySeconds: INFRA_RETRY_SECONDS });
		outcome.failed += valid.length;
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
