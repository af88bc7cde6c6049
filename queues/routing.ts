import type { EventType } from "./events/types.ts";

/** The producer bindings of the consumer queues (wrangler.toml `[[queues.producers]]`). */
export type QueueBinding =
	| "AUDIT_QUEUE"
	| "ANALYTICS_QUEUE"
	| "NOTIFICATIONS_QUEUE"
	| "CACHE_QUEUE"
	| "WEBHOOKS_QUEUE";

export interface Route {
	/** The consumer's name: its dedupe namespace, its dead letters' label, its module in queues/consumers/. */
	consumer: string;
	binding: QueueBinding;
	queue: string;
	deadLetterQueue: string;
	/** Which event types this consumer receives; the producer sends it nothing else. */
	accepts: (type: EventType) => boolean;
}

const projectOrMoney = (type: EventType) =>
	type.startsWith("covenant.projects.") || type.startsWith("covenant.payments.");

/**
 * The routing table: producers send each event straight to every consumer queue whose `accepts` matches (see
 * docs/events.md for why there is no ingress queue). Adding a consumer is one line here, its producer and
 * consumer blocks in wrangler.toml, and its handler in queues/consumers/index.ts.
 */
export const ROUTES = [
	{
		consumer: "audit",
		binding: "AUDIT_QUEUE",
		queue: "covenant-audit",
		deadLetterQueue: "covenant-audit-dlq",
		accepts: () => true,
	},
	{
		consumer: "analytics",
		binding: "ANALYTICS_QUEUE",
		queue: "covenant-analytics",
		deadLetterQueue: "covenant-analytics-dlq",
		accepts: projectOrMoney,
	},
	{
		consumer: "notifications",
		binding: "NOTIFICATIONS_QUEUE",
		queue: "covenant-notifications",
		deadLetterQueue: "covenant-notifications-dlq",
		accepts: (type) =>
			type.startsWith("covenant.projects.") ||
			type === "covenant.payments.distributed" ||
			type === "alerts.anomaly.detected" ||
			type === "notifications.push.queued",
	},
	{
		consumer: "cache",
		binding: "CACHE_QUEUE",
		queue: "covenant-cache",
		deadLetterQueue: "covenant-cache-dlq",
		accepts: (type) =>
			type === "covenant.countries.updated" ||
			type.startsWith("covenant.sectors.") ||
			type.startsWith("covenant.projects."),
	},
	{
		consumer: "webhooks",
		binding: "WEBHOOKS_QUEUE",
		queue: "covenant-webhooks",
		deadLetterQueue: "covenant-webhooks-dlq",
		// Partner-facing events only (see SUBSCRIBABLE_TYPES in workers/webhooks/filters.ts).
		accepts: (type) => type.startsWith("covenant.") || type.startsWith("webhooks."),
	},
] as const satisfies readonly Route[];

export type ConsumerName = (typeof ROUTES)[number]["consumer"];

export function routeOf(consumer: string): Route | undefined {
	return ROUTES.find((r) => r.consumer === consumer);
}

/** The route a consumer queue or its dead-letter queue belongs to. */
export function routeOfQueue(queue: string): { route: Route; deadLetter: boolean } | undefined {
	for (const route of ROUTES) {
		if (route.queue === queue) return { route, deadLetter: false };
		if (route.deadLetterQueue === queue) return { route, deadLetter: true };
	}
	return undefined;
}

/** The routes an event type goes to. */
export function routesFor(type: EventType): Route[] {
	return ROUTES.filter((r) => (r.accepts as (t: EventType) => boolean)(type));
}
