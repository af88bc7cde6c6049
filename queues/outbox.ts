import { sql } from "drizzle-orm";
import type { Database } from "../workers/db/client.ts";
import { eventOutbox } from "../workers/db/schema/event-outbox.ts";
import { type Executor, textArray } from "./db.ts";
import { type CloudEvent, CloudEventSchema } from "./envelope.ts";
import { type QueueBinding, routeOf, routesFor } from "./routing.ts";
import { sendWithRetry } from "./send.ts";

/** Backoff of a parked event that failed again: 1 min, 2 min, 4 min ... capped at an hour. */
const OUTBOX_BACKOFF_SECONDS = 60;
const OUTBOX_BACKOFF_MAX_SECONDS = 3600;

export interface ParkedEvent {
	event: CloudEvent;
	consumer: string;
	error?: string;
}

/** Stores events for the sweep to send; parking the same event for the same consumer twice is a no-op. */
export async function parkEvents(db: Executor, rows: ParkedEvent[]): Promise<void> {
	if (rows.length === 0) return;
	await db
		.insert(eventOutbox)
		.values(
			rows.map((r) => ({
				eventId: r.event.id,
				consumer: r.consumer,
				event: r.event as Record<string, unknown>,
				lastError: r.error?.slice(0, 2000),
			})),
		)
		.onConflictDoNothing();
}

/**
 * The transactional outbox: called inside the transaction that causes the event (e.g. an anomaly insert),
 * so the event exists exactly when its cause does. Sent right after commit by `drainOutbox`, or by the sweep.
 */
export async function enqueueInTransaction(tx: Executor, events: CloudEvent[]): Promise<void> {
	await parkEvents(
		tx,
		events.flatMap((event) => routesFor(event.type).map((route) => ({ event, consumer: route.consumer }))),
	);
}

export interface DrainResult {
	sent: number;
	failed: number;
}

/**
 * Sends due outbox rows (all, or only the given event ids) and deletes the ones their queue accepted; a row
 * that fails again is pushed back with exponential backoff. Rows are locked with SKIP LOCKED, so concurrent
 * sweeps never send the same row at once.
 */
export async function drainOutbox(
	env: Pick<Env, QueueBinding>,
	db: Database,
	options: { eventIds?: string[]; limit?: number } = {},
): Promise<DrainResult> {
	const limit = options.limit ?? 500;
	return db.transaction(async (tx) => {
		const filter = options.eventIds ? sql`and event_id = any(${textArray(options.eventIds)})` : sql``;
		const due = await tx.execute<{ event_id: string; consumer: string; event: unknown }>(sql`
			select event_id, consumer, event from event_outbox
			where next_attempt_at <= now() ${filter}
			order by next_attempt_at
			limit ${limit}
			for update skip locked`);
		const byConsumer = new Map<string, { eventId: string; event: CloudEvent }[]>();
		const unroutable: { eventId: string; consumer: string; error: string }[] = [];
		for (const row of due.rows) {
			const parsed = CloudEventSchema.safeParse(row.event);
			if (!routeOf(row.consumer) || !parsed.success) {
				unroutable.push({
					eventId: row.event_id,
					consumer: row.consumer,
					error: parsed.success ? `no route for consumer ${row.consumer}` : "stored event is not valid",
				});
				continue;
			}
			const list = byConsumer.get(row.consumer) ?? [];
			list.push({ eventId: row.event_id, event: parsed.data });
			byConsumer.set(row.consumer, list);
		}

		const sent: { eventId: string; consumer: string }[] = [];
		const failed = [...unroutable];
		for (const [consumer, rows] of byConsumer) {
			const route = routeOf(consumer);
			if (!route) continue;
			const unsent = await sendWithRetry(
				env[route.binding],
				rows.map((r) => r.event),
				1,
			);
			const unsentIds = new Set(unsent?.events.map((e) => e.id));
			for (const row of rows) {
				if (unsentIds.has(row.eventId)) {
					failed.push({ eventId: row.eventId, consumer, error: String(unsent?.error) });
				} else sent.push({ eventId: row.eventId, consumer });
			}
		}

		if (sent.length > 0) {
			await tx.execute(sql`
				delete from event_outbox o
				using unnest(${textArray(sent.map((s) => s.eventId))}, ${textArray(sent.map((s) => s.consumer))}) as s(event_id, consumer)
				where o.event_id = s.event_id and o.consumer = s.consumer`);
		}
		if (failed.length > 0) {
			await tx.execute(sql`
				update event_outbox o set
					attempts = o.attempts + 1,
					last_error = left(s.error, 2000),
					next_attempt_at = now() + make_interval(secs => least(${OUTBOX_BACKOFF_MAX_SECONDS}, ${OUTBOX_BACKOFF_SECONDS} * power(2, o.attempts)))
				from unnest(${textArray(failed.map((f) => f.eventId))}, ${textArray(failed.map((f) => f.consumer))}, ${textArray(failed.map((f) => f.error))}) as s(event_id, consumer, error)
				where o.event_id = s.event_id and o.consumer = s.consumer`);
		}
		return { sent: sent.length, failed: failed.length };
	});
}
