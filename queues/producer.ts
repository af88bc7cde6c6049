import { type CloudEvent, createEvent, type NewEvent } from "./envelope.ts";

export interface EventPublisher {
	/** Validates and sends the events; resolves once the queue has accepted them, throws if it never does. */
	publish(...events: NewEvent[]): Promise<CloudEvent[]>;
}

const SEND_ATTEMPTS = 3;

/**
 * The producer helper: every event goes through here. A failed `send` is retried with backoff and, if it
 * still fails, the error propagates to the caller (never swallowed), so the caller decides: fail the request,
 * or leave the event in its outbox for the next drain.
 */
export function createEventPublisher(
	env: Pick<Env, "EVENTS">,
	context: { source: string; requestId?: string },
): EventPublisher {
	return {
		async publish(...events) {
			const envelopes = events.map((e) => createEvent(e, context));
			if (envelopes.length === 0) return envelopes;
			await sendWithRetry(env.EVENTS, envelopes);
			return envelopes;
		},
	};
}

export async function sendWithRetry(queue: Queue, envelopes: CloudEvent[]): Promise<void> {
	let lastError: unknown;
	for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
		try {
			// sendBatch takes at most 100 messages per call.
			for (let i = 0; i < envelopes.length; i += 100) {
				await queue.sendBatch(
					envelopes.slice(i, i + 100).map((body) => ({ body, contentType: "json" as const })),
				);
			}
			return;
		} catch (error) {
			lastError = error;
			await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
		}
	}
	console.error(
		JSON.stringify({ msg: "event send failed", ids: envelopes.map((e) => e.id), error: String(lastError) }),
	);
	throw lastError;
}
