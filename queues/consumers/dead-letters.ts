import { sql } from "drizzle-orm";
import { withDb } from "../../workers/db/client.ts";
import { textArray } from "../db.ts";
import type { Route } from "../routing.ts";
import { errorText } from "./runner.ts";

/** Backoff while Postgres cannot take the record: 30 s, 1 min, 2 min ... capped at an hour. */
const RETRY_BASE_SECONDS = 30;
const RETRY_MAX_SECONDS = 3600;

/** A dead-lettered body as JSON: JSON bodies as they are, anything else wrapped so it can still be stored. */
export function storableBody(body: unknown): unknown {
	if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
		const bytes =
			body instanceof ArrayBuffer
				? new Uint8Array(body)
				: new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
		let binary = "";
		for (const byte of bytes) binary += String.fromCharCode(byte);
		return { encoding: "base64", bytes: btoa(binary) };
	}
	try {
		const text = JSON.stringify(body);
		// jsonb cannot hold \u0000; such a body is kept as its JSON text.
		return text === undefined ? null : text.includes("\\u0000") ? { encoding: "json-text", text } : body;
	} catch {
		return { encoding: "string", text: String(body) };
	}
}

function eventIdentity(body: unknown): { id: string | null; type: string | null } {
	if (body === null || typeof body !== "object") return { id: null, type: null };
	const { id, type } = body as { id?: unknown; type?: unknown };
	return {
		id: typeof id === "string" && id.length <= 200 ? id : null,
		type: typeof type === "string" && type.length <= 200 ? type : null,
	};
}

/**
 * The dead-letter consumer: records every message of a consumer's dead-letter queue in `dead_letters`, with
 * the last error the consumer recorded for it (`event_failures`, keyed by the message id the platform keeps).
 * Recording twice is a no-op (unique consumer × message id); if Postgres is down the batch is retried.
 */
export async function recordDeadLetters(batch: MessageBatch<unknown>, env: Env, route: Route): Promise<void> {
	const messages = batch.messages;
	try {
		await withDb(env, (db) =>
			db.execute(sql`
				insert into dead_letters
					(consumer, queue, message_id, event_id, event_type, body, error, attempts, enqueued_at, dead_lettered_at)
				select ${route.consumer}, ${route.queue}, m.message_id, m.event_id, m.event_type, m.body::jsonb,
					f.error, coalesce(f.attempts, 0), m.enqueued_at::timestamptz,
					-- Millisecond precision, like the listing's cursor (a JavaScript Date).
					date_trunc('milliseconds', now())
				from unnest(
					${textArray(messages.map((m) => m.id))},
					${textArray(messages.map((m) => eventIdentity(m.body).id))},
					${textArray(messages.map((m) => eventIdentity(m.body).type))},
					${textArray(messages.map((m) => JSON.stringify(storableBody(m.body))))},
					${textArray(messages.map((m) => m.timestamp.toISOString()))}
				) as m(message_id, event_id, event_type, body, enqueued_at)
				-- The failure recorded under this message id (the platform keeps it when dead-lettering), else
				-- the latest one recorded for the same event.
				left join lateral (
					select error, attempts from event_failures
					where consumer = ${route.consumer}
						and (message_id = m.message_id or (m.event_id is not null and event_id = m.event_id))
					order by (message_id = m.message_id) desc, last_failed_at desc
					limit 1
				) f on true
				on conflict (consumer, message_id) do nothing`),
		);
		batch.ackAll();
		console.warn(
			JSON.stringify({ msg: "dead letters recorded", consumer: route.consumer, count: messages.length }),
		);
	} catch (error) {
		console.error(
			JSON.stringify({ msg: "could not record dead letters", queue: batch.queue, error: errorText(error) }),
		);
		for (const message of messages) {
			message.retry({
				delaySeconds: Math.min(
					RETRY_MAX_SECONDS,
					RETRY_BASE_SECONDS * 2 ** Math.max(0, message.attempts - 1),
				),
			});
		}
	}
}
