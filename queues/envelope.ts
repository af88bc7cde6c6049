import { z } from "zod";
import { EVENT_DATA_SCHEMAS, EVENT_TYPES } from "./events/index.ts";

export { EVENT_TYPES, type EventType, SECTOR_SLUGS, type SectorSlug } from "./events/types.ts";

import type { EventType } from "./events/types.ts";

const CloudEventEnvelope = z.object({
	specversion: z.literal("1.0"),
	/** Unique per event; consumers deduplicate on it, so a cause retried must reuse its id. */
	id: z.string().min(1).max(200),
	source: z.string().min(1),
	type: z.enum(EVENT_TYPES),
	/** The object the event is about, as a path: `projects/<id>`, `nations/KE`, `sectors/energy`. */
	subject: z.string().min(1).optional(),
	time: z.iso.datetime({ offset: true }),
	datacontenttype: z.literal("application/json"),
	/** Extension attribute: the request that caused the event, for the audit trail. */
	requestid: z.string().optional(),
	/** Extension attribute: who caused it (principal id), for the audit trail. */
	actor: z.string().optional(),
	data: z.record(z.string(), z.unknown()),
});

/**
 * CloudEvents 1.0, JSON structured mode, with the data checked against its type's schema
 * (queues/events/). Validated when produced and again when consumed.
 */
export const CloudEventSchema = CloudEventEnvelope.superRefine((event, ctx) => {
	const result = EVENT_DATA_SCHEMAS[event.type].safeParse(event.data);
	if (result.success) return;
	for (const issue of result.error.issues) {
		ctx.addIssue({ code: "custom", message: issue.message, path: ["data", ...issue.path] });
	}
});
export type CloudEvent = z.infer<typeof CloudEventEnvelope>;

export interface NewEvent {
	type: EventType;
	subject?: string;
	data: Record<string, unknown>;
	/** Stable id when the event must be deduplicated across retries of its cause (e.g. an outbox row). */
	id?: string;
	actor?: string;
	time?: Date;
}

/** Queues refuse messages over 128 KB; an event must leave room for the framing. */
export const MAX_EVENT_BYTES = 120_000;

export function createEvent(event: NewEvent, context: { source: string; requestId?: string }): CloudEvent {
	const envelope = CloudEventSchema.parse({
		specversion: "1.0",
		id: event.id ?? crypto.randomUUID(),
		source: context.source,
		type: event.type,
		subject: event.subject,
		time: (event.time ?? new Date()).toISOString(),
		datacontenttype: "application/json",
		requestid: context.requestId,
		actor: event.actor,
		data: event.data,
	});
	const bytes = new TextEncoder().encode(JSON.stringify(envelope)).byteLength;
	if (bytes > MAX_EVENT_BYTES) {
		throw new RangeError(
			`event ${envelope.type} is ${bytes} bytes; events are limited to ${MAX_EVENT_BYTES} (put large payloads in Postgres and reference them)`,
		);
	}
	return envelope;
}

/** A queue message body that is not a valid event: the reason, for the failure record and the dead letter. */
export class InvalidEventError extends Error {
	constructor(issues: z.core.$ZodIssue[]) {
		super(
			`invalid CloudEvent: ${issues
				.slice(0, 5)
				.map(
					(i) =>
						`${i.path.join(".") || "(body)"}: ${i.message.length > 120 ? `${i.message.slice(0, 120)}…` : i.message}`,
				)
				.join("; ")}`,
		);
		this.name = "InvalidEventError";
	}
}

/** Consumer side: the message body as a validated event, or InvalidEventError. */
export function parseEvent(body: unknown): CloudEvent {
	const result = CloudEventSchema.safeParse(body);
	if (!result.success) throw new InvalidEventError(result.error.issues);
	return result.data;
}
