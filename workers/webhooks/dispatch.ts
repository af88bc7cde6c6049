import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import type { DeliveryJob } from "./delivery-job.ts";

/** Queues take at most 100 messages per sendBatch. */
const SEND_BATCH = 100;

/** Puts delivery jobs on the deliveries queue (optionally delayed). */
export async function sendJobs(
	env: Pick<Env, "WEBHOOK_DELIVERIES">,
	jobs: readonly DeliveryJob[],
	delaySeconds?: number,
): Promise<void> {
	for (let i = 0; i < jobs.length; i += SEND_BATCH) {
		await env.WEBHOOK_DELIVERIES.sendBatch(
			jobs.slice(i, i + SEND_BATCH).map((body) => ({ body, contentType: "json" as const, delaySeconds })),
		);
	}
}

/**
 * How late a pending message may be before the sweep assumes its queue message is lost (a crash between the
 * commit and the send, or a job that exhausted the queue's own retries) and dispatches it again.
 */
export const OVERDUE_AFTER_SECONDS = 15 * 60;
/** Delivery history (succeeded and failed messages with their attempts) is kept this long. */
export const HISTORY_RETENTION_DAYS = 30;
const SWEEP_LIMIT = 500;

/**
 * The every-minute safety net: re-dispatches pending messages that are long overdue, under a fresh dispatch
 * id (so whatever copy of the old job still exists is dropped when it arrives). Returns how many.
 */
export async function redispatchOverdue(env: Pick<Env, "WEBHOOK_DELIVERIES">, db: Database): Promise<number> {
	const overdue = await db.execute<{ id: string; dispatch_id: string }>(sql`
		update webhook_messages m set dispatch_id = gen_random_uuid(), updated_at = now()
		where m.id in (
			select id from webhook_messages
			where status = 'pending'
				and next_attempt_at < now() - make_interval(secs => ${OVERDUE_AFTER_SECONDS})
				and (lease_until is null or lease_until < now())
			order by next_attempt_at
			limit ${SWEEP_LIMIT}
			for update skip locked)
		returning m.id, m.dispatch_id`);
	const jobs = overdue.rows.map((r) => ({ message_id: r.id, dispatch_id: r.dispatch_id }));
	if (jobs.length > 0) {
		await sendJobs(env, jobs);
		console.warn(JSON.stringify({ msg: "webhook messages re-dispatched by the sweep", count: jobs.length }));
	}
	return jobs.length;
}

/** The daily prune: settled messages (and their attempts) older than the retention. Returns how many. */
export async function pruneWebhookHistory(db: Database): Promise<number> {
	const deleted = await db.execute(sql`
		delete from webhook_messages where id in (
			select id from webhook_messages
			where status <> 'pending' and created_at < now() - make_interval(days => ${HISTORY_RETENTION_DAYS})
			limit 10000)`);
	return deleted.rowCount ?? 0;
}
