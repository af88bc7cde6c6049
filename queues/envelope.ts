import { z } from "zod";

/** The seed's topic names, used as CloudEvents `type`. */
export const SECTOR_SLUGS = ["agriculture", "minerals", "energy", "tech", "health", "education"] as const;

export const EVENT_TYPES = [
	"covenant.countries.updated",
	...SECTOR_SLUGS.map((s) => `covenant.sectors.${s}.updated` as const),
	"covenant.projects.created",
	"covenant.projects.updated",
	"covenant.payments.recorded",
	"covenant.payments.distributed",
	"alerts.anomaly.detected",
	"notifications.push.queued",
	"users.authenticated",
	"audit.permission_changed",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** CloudEvents 1.0, JSON structured mode. Validated when produced and again when consumed. */
export const CloudEventSchema = z.object({
	specversion: z.literal("1.0"),
	id: z.string().min(1).max(200),
	source: z.string().min(1),
	type: z.enum(EVENT_TYPES),
	subject: z.string().min(1).optional(),
	time: z.iso.datetime({ offset: true }),
	datacontenttype: z.literal("application/json"),
	/** Extension attribute: the request that caused the event, for the audit trail. */
	requestid: z.string().optional(),
	/** Extension attribute: who caused it (principal id), for the audit trail. */
	actor: z.string().optional(),
	data: z.record(z.string(), z.unknown()),
});
export type CloudEvent = z.infer<typeof CloudEventSchema>;

export interface NewEvent {
	type: EventType;
	subject?: string;
	data: Record<string, unknown>;
	/** Stable id when the event must be deduplicated across retries of its cause (e.g. an outbox row). */
	id?: string;
	actor?: string;
	time?: Date;
}

export function createEvent(event: NewEvent, context: { source: string; requestId?: string }): CloudEvent {
	return CloudEventSchema.parse({
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
}
