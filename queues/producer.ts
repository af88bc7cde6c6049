import { withDb } from "../workers/db/client.ts";
import { type CloudEvent, createEvent, type NewEvent } from "./envelope.ts";
import { parkEvents } from "./outbox.ts";
import { type QueueBinding, type Route, routesFor } from "./routing.ts";
import { sendWithRetry } from "./send.ts";

export interface EventPublisher {
	/**
	 * Validates the events and delivers each to every consumer queue that receives its type. Resolves once
	 * every queue accepted them or the undelivered ones were parked in the event outbox (re-sent by the
	 * scheduled sweep); throws only if both failed, so no event is ever dropped silently.
	 */
	publish(...events: NewEvent[]): Promise<CloudEvent[]>;
}

/** What the producer needs: the consumer queues, and Postgres for the outbox fallback. */
export type EventProducerEnv = Pick<Env, QueueBinding | "DATABASE_URL" | "NEON_WS_PROXY">;

/** Raised when an event could neither be sent nor parked: the caller must fail (or keep its own outbox). */
export class EventDeliveryError extends Error {
	readonly eventIds: string[];
	constructor(eventIds: string[], cause: unknown) {
		super(
			`events ${eventIds.join(", ")} could not be sent nor parked in the event outbox: ${String(cause)}`,
			{
				cause,
			},
		);
		this.name = "EventDeliveryError";
		this.eventIds = eventIds;
	}
}

/**
 * The producer helper: every event goes through here. Each event is sent straight to the queue of every
 * consumer whose route accepts its type (queues/routing.ts). A failed `send` is retried with backoff; what
 * still fails is parked in Postgres (`event_outbox`) and re-sent by the scheduled sweep.
 */
export function createEventPublisher(
	env: EventProducerEnv,
	context: { source: string; requestId?: string },
): EventPublisher {
	return {
		async publish(...events) {
			const envelopes = events.map((e) => createEvent(e, context));
			if (envelopes.length > 0) await deliverEvents(env, envelopes);
			return envelopes;
		},
	};
}

/** Sends validated envelopes to their routes; parks what the queues refuse (see EventPublisher.publish). */
export async function deliverEvents(env: EventProducerEnv, envelopes: CloudEvent[]): Promise<void> {
	const byRoute = new Map<Route, CloudEvent[]>();
	for (const event of envelopes) {
		for (const route of routesFor(event.type)) {
			const list = byRoute.get(route) ?? [];
			list.push(event);
			byRoute.set(route, list);
		}
	}
	const outcomes = await Promise.all(
		[...byRoute].map(async ([route, events]) => {
			const unsent = await sendWithRetry(env[route.binding], events);
			return unsent && { route, ...unsent };
		}),
	);
	const failed = outcomes.filter((o) => o !== undefined);
	if (failed.length === 0) return;

	const parked = failed.flatMap(({ route, events, error }) =>
		events.map((event) => ({ event, consumer: route.consumer, error: String(error) })),
	);
	const eventIds = [...new Set(parked.map((p) => p.event.id))];
	try {
		await withDb(env, (db) => parkEvents(db, parked));
	} catch (error) {
		console.error(
			JSON.stringify({
				msg: "event delivery failed and the outbox is unreachable",
				eventIds,
				error: String(error),
			}),
		);
		throw new EventDeliveryError(eventIds, error);
	}
	console.warn(
		JSON.stringify({
			msg: "event send failed; parked in the event outbox",
			consumers: failed.map((f) => f.route.consumer),
			eventIds,
			error: String(failed[0]?.error),
		}),
	);
}
