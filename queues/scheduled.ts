import { sql } from "drizzle-orm";
import { type Database, withDb } from "../workers/db/client.ts";
import { TOMBSTONE_RETENTION_MS } from "../workers/sync/retention.ts";
import { pruneWebhookHistory, redispatchOverdue } from "../workers/webhooks/dispatch.ts";
import { sendDeliveries } from "./consumers/notification-delivery.ts";
import { errorText } from "./consumers/runner.ts";
import { drainOutbox } from "./outbox.ts";

/** The crons in wrangler.toml `[triggers]`. */
export const EVERY_MINUTE = "* * * * *";
export const DAILY = "17 3 * * *";

/** How long dedupe records are kept: far beyond Queues' 14-day retention and any outbox backoff. */
const PROCESSED_RETENTION_DAYS = 30;
const FAILURE_RETENTION_DAYS = 30;
const DELIVERY_RETENTION_DAYS = 90;
const OUTBOX_PASS_SIZE = 500;
const OUTBOX_PASSES = 10;

export interface SweepReport {
	outbox?: { sent: number; failed: number };
	deliveries?: { claimed: number; sent: number; retry: number; failed: number; invalid_token: number };
	pruned?: { processed_events: number; event_failures: number; notification_deliveries: number };
	webhooks?: { redispatched?: number; pruned?: number };
	sync?: { tombstones_pruned: number };
}

/**
 * The worker's `scheduled` handler. Every minute: re-send events parked in the outbox, and push deliveries
 * left pending (transient provider failures, or a consumer that died after its commit). Daily: prune the
 * dedupe records, old failure and delivery records, and sync tombstones past their retention. Each part runs
 * even when another fails.
 */
export async function runScheduled(
	controller: Pick<ScheduledController, "cron">,
	env: Env,
): Promise<SweepReport> {
	const report: SweepReport = {};
	await withDb(env, async (db) => {
		if (controller.cron === DAILY) {
			await logged("prune", async () => {
				const count = async (query: ReturnType<typeof sql>) => (await db.execute(query)).rowCount ?? 0;
				report.pruned = {
					processed_events: await count(
						sql`delete from processed_events where processed_at < now() - make_interval(days => ${PROCESSED_RETENTION_DAYS})`,
					),
					event_failures: await count(
						sql`delete from event_failures where last_failed_at < now() - make_interval(days => ${FAILURE_RETENTION_DAYS})`,
					),
					notification_deliveries: await count(
						sql`delete from notification_deliveries where status in ('sent', 'failed', 'invalid_token') and updated_at < now() - make_interval(days => ${DELIVERY_RETENTION_DAYS})`,
					),
				};
			});
			await logged("sync-prune", async () => {
				report.sync = { tombstones_pruned: await pruneSyncTombstones(db) };
			});
			await logged("webhooks-prune", async () => {
				report.webhooks = { pruned: await pruneWebhookHistory(db) };
			});
			return;
		}
		if (controller.cron !== EVERY_MINUTE) {
			console.warn(JSON.stringify({ msg: "no sweep for this cron", cron: controller.cron }));
			return;
		}
		await logged("outbox", async () => {
			// After an outage the outbox can hold more than one pass takes: keep going while passes come back full.
			const total = { sent: 0, failed: 0 };
			for (let pass = 0; pass < OUTBOX_PASSES; pass++) {
				const result = await drainOutbox(env, db, { limit: OUTBOX_PASS_SIZE });
				total.sent += result.sent;
				total.failed += result.failed;
				if (result.sent + result.failed < OUTBOX_PASS_SIZE) break;
			}
			report.outbox = total;
		});
		await logged("deliveries", async () => {
			report.deliveries = await sendDeliveries(env, db, { due: true });
		});
		await logged("webhooks", async () => {
			report.webhooks = { redispatched: await redispatchOverdue(env, db) };
		});
	});
	console.log(JSON.stringify({ msg: "sweep done", cron: controller.cron, ...report }));
	return report;
}

async function logged(part: string, run: () => Promise<void>): Promise<void> {
	try {
		await run();
	} catch (error) {
		console.error(JSON.stringify({ msg: "sweep part failed", part, error: errorText(error) }));
	}
}

/** Tombstones pruned per statement, so one sweep never holds a long delete on the table triggers write to. */
const TOMBSTONE_PRUNE_BATCH = 10_000;
const TOMBSTONE_PRUNE_BATCHES = 100;

/**
 * Deletes sync tombstones older than TOMBSTONE_RETENTION_MS (by `changed_ms`, the tombstones' own clock), in
 * batches. A device that last pulled before then is told to resynchronize instead (workers/sync/retention.ts).
 */
export async function pruneSyncTombstones(db: Database, nowMs = Date.now()): Promise<number> {
	const before = nowMs - TOMBSTONE_RETENTION_MS;
	let pruned = 0;
	for (let batch = 0; batch < TOMBSTONE_PRUNE_BATCHES; batch++) {
		const result = await db.execute(
			sql`delete from sync_tombstones where id in (select id from sync_tombstones where changed_ms < ${before} order by id limit ${TOMBSTONE_PRUNE_BATCH})`,
		);
		const count = result.rowCount ?? 0;
		pruned += count;
		if (count < TOMBSTONE_PRUNE_BATCH) break;
	}
	return pruned;
}
