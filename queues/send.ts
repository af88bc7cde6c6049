import type { CloudEvent } from "./envelope.ts";

const SEND_ATTEMPTS = 3;
const SEND_BACKOFF_MS = 50;
/** Queues limits: 100 messages and 256 KB per sendBatch (a little headroom for the framing). */
const MAX_BATCH_MESSAGES = 100;
const MAX_BATCH_BYTES = 250_000;

/**
 * Sends in chunks within the Queues batch limits, retrying each chunk; returns the events of the chunks that
 * never went through (a retried chunk may be delivered twice: consumers deduplicate on the event id).
 */
export async function sendWithRetry(
	queue: Queue,
	events: CloudEvent[],
	attempts = SEND_ATTEMPTS,
): Promise<{ events: CloudEvent[]; error: unknown } | undefined> {
	const unsent: CloudEvent[] = [];
	let lastError: unknown;
	for (const chunk of chunksWithinLimits(events)) {
		for (let attempt = 1; ; attempt++) {
			try {
				await queue.sendBatch(chunk.map((body) => ({ body, contentType: "json" as const })));
				break;
			} catch (error) {
				lastError = error;
				if (attempt >= attempts) {
					unsent.push(...chunk);
					break;
				}
				await new Promise((resolve) => setTimeout(resolve, SEND_BACKOFF_MS * 2 ** (attempt - 1)));
			}
		}
	}
	return unsent.length > 0 ? { events: unsent, error: lastError } : undefined;
}

function* chunksWithinLimits(events: CloudEvent[]): Generator<CloudEvent[]> {
	let chunk: CloudEvent[] = [];
	let bytes = 0;
	for (const event of events) {
		const size = JSON.stringify(event).length;
		if (chunk.length > 0 && (chunk.length >= MAX_BATCH_MESSAGES || bytes + size > MAX_BATCH_BYTES)) {
			yield chunk;
			chunk = [];
			bytes = 0;
		}
		chunk.push(event);
		bytes += size;
	}
	if (chunk.length > 0) yield chunk;
}
