import { sql } from "drizzle-orm";
import { type Database, withDb } from "../../workers/db/client.ts";
import { processedEvents } from "../../workers/db/schema/processed-events.ts";
import { type Tx, textArray } from "../db.ts";
import { type CloudEvent, InvalidEventError, parseEvent } from "../envelope.ts";
import { drainOutbox } from "../outbox.ts";
import type { ConsumerName } from "../routing.ts";

/** What a consumer's effect code gets besides the transaction. */
export interface ConsumerContext {
	env: Env;
	ctx: ExecutionContext;
	/** The batch's connection (for after-commit work; effects use the transaction). */
	db: Database;
	now: Date;
}

interface ConsumerBase {
	name: ConsumerName;
	/**
	 * Work after the commit that must not hold the transaction (sending pushes, draining the outbox). It must
	 * be recoverable by a sweep: a failure here is logged, never retried through the queue.
	 */
	afterCommit?(events: CloudEvent[], context: ConsumerContext): Promise<void>;
}

/**
 * The usual consumer: the runner records each event id in `processed_events` in the same transaction as
 * `apply`, and calls `apply` only with the events this consumer has never applied.
 */
export interface TransactionalConsumer extends ConsumerBase {
	/**
	 * Applies the effects of fresh events inside the transaction. Throwing rolls back all of them. Events it
	 * caused go into the outbox in the same transaction (`enqueueInTransaction`); return their ids and the
	 * runner sends them right after the commit (the sweep sends them otherwise).
	 */
	apply(tx: Tx, events: CloudEvent[], context: ConsumerContext): Promise<undefined | { outbox: string[] }>;
}

/**
 * A consumer that commits its own unit of work, in fewer round trips than the default transaction. `commit`
 * must record the events in `processed_events` and apply their effects atomically (all or nothing), skip the
 * ones already recorded, call `checkpoint` for each fresh event before anything is committed (the test seam),
 * and return the ids it applied.
 */
export interface CustomCommitConsumer extends ConsumerBase {
	commit(
		db: Database,
		events: CloudEvent[],
		context: ConsumerContext,
		checkpoint: (event: CloudEvent) => void,
	): Promise<CommitResult>;
}

/** A queue consumer with exactly-once effects (see `runConsumer`). */
export type EventConsumer = TransactionalConsumer | CustomCommitConsumer;

/** What a unit of work committed: the events applied now (the others had been before), and outbox events. */
export interface CommitResult {
	fresh: Set<string>;
	outbox: string[];
}

/** Where a test may make a handler call fail (see `ConsumerOptions.faults`). */
export type FaultPoint = "before-transaction" | "in-transaction" | "after-commit";

export interface ConsumerOptions {
	/**
	 * Test seam: called for each event at each point; throwing there simulates a crash at that point
	 * (before anything is written, inside the transaction, or after the commit but before the ack). The
	 * worker's queue handler never passes it.
	 */
	faults?: (point: FaultPoint, event: CloudEvent) => void;
	now?: () => Date;
}

export interface BatchOutcome {
	/** Messages acknowledged (applied now, or already applied before). */
	acked: number;
	/** Messages handed back to the queue for a retry. */
	retried: number;
	/** Events whose effect this batch applied. */
	applied: number;
	/** Messages whose event had already been applied (redeliveries and duplicates). */
	duplicates: number;
}

/** Retry backoff of a transient failure: 10 s, 20 s, 40 s ... capped at 10 minutes, with ±20% jitter. */
const RETRY_BASE_SECONDS = 10;
const RETRY_MAX_SECONDS = 600;
const PERMANENT_RETRY_SECONDS = 1;
const ERROR_TEXT_LIMIT = 2000;

export function retryDelaySeconds(attempts: number, permanent: boolean): number {
	// Waiting cannot fix a body that is not a valid event: retry after a second (not the queue's retry_delay)
	// so it reaches the dead-letter queue after its retries without sitting in the backlog.
	if (permanent) return PERMANENT_RETRY_SECONDS;
	const base = Math.min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** Math.max(0, attempts - 1));
	return Math.round(base * (0.8 + Math.random() * 0.4));
}

interface Group {
	event: CloudEvent;
	messages: Message[];
}

interface Failure {
	message: Message;
	eventId?: string;
	error: unknown;
	permanent: boolean;
}

/**
 * Runs one batch through a consumer: validates each body, applies all fresh events in ONE transaction (the
 * fast path), and when that transaction fails, applies them one event per transaction so one poison message
 * cannot block the others. Every message is then acked or retried on its own; failures are recorded (for the
 * dead-letter record) and the handler never throws, because a throwing handler makes the platform retry the
 * whole batch, acked messages included.
 */
export async function runConsumer(
	consumer: EventConsumer,
	batch: MessageBatch<unknown>,
	env: Env,
	ctx: ExecutionContext,
	options: ConsumerOptions = {},
): Promise<BatchOutcome> {
	const outcome: BatchOutcome = { acked: 0, retried: 0, applied: 0, duplicates: 0 };
	const failures: Failure[] = [];
	const groups = new Map<string, Group>();

	for (const message of batch.messages) {
		let event: CloudEvent;
		try {
			event = parseEvent(message.body);
		} catch (error) {
			failures.push({ message, error, permanent: error instanceof InvalidEventError });
			continue;
		}
		try {
			options.faults?.("before-transaction", event);
		} catch (error) {
			failures.push({ message, eventId: event.id, error, permanent: false });
			continue;
		}
		const group = groups.get(event.id);
		if (group) group.messages.push(message);
		else groups.set(event.id, { event, messages: [message] });
	}

	const succeeded: Group[] = [];
	try {
		await withDb(env, async (db) => {
			const context: ConsumerContext = { env, ctx, db, now: options.now?.() ?? new Date() };
			const pending = [...groups.values()];
			let committed: { group: Group; fresh: boolean }[] = [];
			const outbox: string[] = [];
			if (pending.length > 0) {
				try {
					const result = await applyInOneTransaction(consumer, db, pending, context, options);
					committed = result.committed;
					outbox.push(...result.outbox);
				} catch (error) {
					// Postgres unreachable: one attempt per event would only multiply the timeouts.
					await db.execute(sql`select 1`);
					if (pending.length > 1) {
						console.warn(
							JSON.stringify({
								msg: "batch transaction failed; applying one event per transaction",
								consumer: consumer.name,
								error: errorText(error),
							}),
						);
					}
					committed = [];
					for (const group of pending) {
						try {
							const result = await applyInOneTransaction(consumer, db, [group], context, options);
							committed.push(...result.committed);
							outbox.push(...result.outbox);
						} catch (groupError) {
							for (const message of group.messages) {
								failures.push({ message, eventId: group.event.id, error: groupError, permanent: false });
							}
						}
					}
				}
			}

			const fresh: CloudEvent[] = [];
			for (const { group, fresh: isFresh } of committed) {
				if (isFresh) {
					outcome.applied++;
					fresh.push(group.event);
				}
				outcome.duplicates += isFresh ? group.messages.length - 1 : group.messages.length;
				try {
					options.faults?.("after-commit", group.event);
					succeeded.push(group);
				} catch (error) {
					// The effect is committed but the ack is lost: the redelivery must find it already applied.
					for (const message of group.messages) {
						failures.push({ message, eventId: group.event.id, error, permanent: false });
					}
				}
			}

			if (outbox.length > 0) {
				try {
					await drainOutbox(env, db, { eventIds: outbox });
				} catch (error) {
					console.error(
						JSON.stringify({
							msg: "outbox send failed; the sweep will send it",
							consumer: consumer.name,
							error: errorText(error),
						}),
					);
				}
			}

			if (fresh.length > 0 && consumer.afterCommit) {
				try {
					await consumer.afterCommit(fresh, context);
				} catch (error) {
					console.error(
						JSON.stringify({
							msg: "after-commit work failed; the sweep will finish it",
							consumer: consumer.name,
							error: errorText(error),
						}),
					);
				}
			}

			if (failures.length > 0) await recordFailures(db, consumer.name, failures);
		});
	} catch (error) {
		// No connection at all (or recording failed): everything not yet settled goes back to the queue.
		console.error(
			JSON.stringify({ msg: "consumer batch failed", consumer: consumer.name, error: errorText(error) }),
		);
		const settled = new Set<Message>([
			...succeeded.flatMap((g) => g.messages),
			...failures.map((f) => f.message),
		]);
		for (const group of groups.values()) {
			for (const message of group.messages) {
				if (!settled.has(message))
					failures.push({ message, eventId: group.event.id, error, permanent: false });
			}
		}
	}

	for (const group of succeeded) {
		for (const message of group.messages) {
			message.ack();
			outcome.acked++;
		}
	}
	for (const failure of failures) {
		failure.message.retry({ delaySeconds: retryDelaySeconds(failure.message.attempts, failure.permanent) });
		outcome.retried++;
	}
	if (failures.length > 0) {
		console.warn(
			JSON.stringify({
				msg: "messages retried",
				consumer: consumer.name,
				queue: batch.queue,
				count: failures.length,
				first: { messageId: failures[0]?.message.id, error: errorText(failures[0]?.error) },
			}),
		);
	}
	return outcome;
}

/** Commits one unit of work (the whole batch, or one event) with the consumer's `commit` or the default one. */
async function applyInOneTransaction(
	consumer: EventConsumer,
	db: Database,
	groups: Group[],
	context: ConsumerContext,
	options: ConsumerOptions,
): Promise<{ committed: { group: Group; fresh: boolean }[]; outbox: string[] }> {
	const events = groups.map((g) => g.event);
	const checkpoint = (event: CloudEvent) => options.faults?.("in-transaction", event);
	const result =
		"commit" in consumer
			? await consumer.commit(db, events, context, checkpoint)
			: await defaultCommit(consumer, db, events, context, checkpoint);
	return {
		committed: groups.map((group) => ({ group, fresh: result.fresh.has(group.event.id) })),
		outbox: result.outbox,
	};
}

/**
 * The default unit of work: one transaction that records the events in `processed_events` and applies the
 * effect of exactly the ones that were not recorded before.
 */
async function defaultCommit(
	consumer: TransactionalConsumer,
	db: Database,
	events: CloudEvent[],
	context: ConsumerContext,
	checkpoint: (event: CloudEvent) => void,
): Promise<CommitResult> {
	return db.transaction(async (tx) => {
		const inserted = await tx
			.insert(processedEvents)
			.values(events.map((event) => ({ consumer: consumer.name, eventId: event.id })))
			.onConflictDoNothing()
			.returning({ eventId: processedEvents.eventId });
		const freshIds = new Set(inserted.map((r) => r.eventId));
		const fresh = events.filter((event) => freshIds.has(event.id));
		for (const event of fresh) checkpoint(event);
		const applied = fresh.length > 0 ? await consumer.apply(tx, fresh, context) : undefined;
		return { fresh: freshIds, outbox: applied?.outbox ?? [] };
	});
}

/** Best effort: the dead-letter consumer reads the last error from here. */
async function recordFailures(db: Database, consumer: string, failures: Failure[]): Promise<void> {
	try {
		await db.execute(sql`
			insert into event_failures (consumer, message_id, event_id, attempts, error)
			select ${consumer}, f.message_id, f.event_id, f.attempts::int, f.error
			from unnest(
				${textArray(failures.map((f) => f.message.id))},
				${textArray(failures.map((f) => f.eventId ?? null))},
				${textArray(failures.map((f) => String(f.message.attempts)))},
				${textArray(failures.map((f) => errorText(f.error)))}
			) as f(message_id, event_id, attempts, error)
			on conflict (consumer, message_id) do update set
				attempts = greatest(event_failures.attempts, excluded.attempts),
				error = excluded.error,
				event_id = coalesce(excluded.event_id, event_failures.event_id),
				last_failed_at = now()`);
	} catch (error) {
		console.error(
			JSON.stringify({ msg: "could not record consumer failures", consumer, error: errorText(error) }),
		);
	}
}

/** The most specific message of an error chain (drizzle wraps driver errors as "Failed query: ..."). */
export function errorText(error: unknown): string {
	let current = error;
	while (current instanceof Error && current.cause instanceof Error) current = current.cause;
	const text = current instanceof Error ? `${current.name}: ${current.message}` : String(current);
	return text.slice(0, ERROR_TEXT_LIMIT);
}
