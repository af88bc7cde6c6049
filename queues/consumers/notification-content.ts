import type { NotificationCategory } from "../../workers/db/schema/notifications.ts";
import type { CloudEvent } from "../envelope.ts";
import type { AnomalyDetectedData } from "../events/anomaly-detected.ts";
import type { PushQueuedData } from "../events/push-queued.ts";
import type { EventAttributes } from "./attributes.ts";

/** What one event becomes for the notifications consumer: the message and who should get it. */
export interface NotificationSpec {
	eventId: string;
	eventType: string;
	category: NotificationCategory;
	title: string;
	body: string;
	payload: Record<string, string>;
	/** Explicit recipients (announcements); they still honour their own `enabled` and categories. */
	userIds: string[] | null;
	/** Subscribers of any of these receive it. */
	sectors: string[];
	regions: string[];
	nations: string[];
}

/** Integer cents as US dollars for display, without going through a float: 123456 -> "$1,234.56". */
export function formatUsd(cents: number): string {
	const sign = cents < 0 ? "-" : "";
	const abs = Math.abs(Math.trunc(cents));
	const dollars = Math.trunc(abs / 100)
		.toString()
		.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
	return `${sign}$${dollars}.${String(abs % 100).padStart(2, "0")}`;
}

const sectorName = (slug: string | null) => (slug ? slug.charAt(0).toUpperCase() + slug.slice(1) : "");
const list = (value: string | null) => (value ? [value] : []);

function statusChange(data: Record<string, unknown>): string | null {
	const before = (data.before ?? {}) as Record<string, unknown>;
	const after = (data.after ?? {}) as Record<string, unknown>;
	const next = typeof after.status === "string" ? after.status : null;
	return next && before.status !== next ? next : null;
}

/**
 * The notification an event produces, or null when it produces none (e.g. a project update that does not
 * change its status). The audience is the event's sector, serving region and nation.
 */
export function notificationFor(event: CloudEvent, a: EventAttributes | undefined): NotificationSpec | null {
	const base = {
		eventId: event.id,
		eventType: event.type,
		payload: {
			event_id: event.id,
			event_type: event.type,
			...(event.subject ? { subject: event.subject } : {}),
		},
		userIds: null,
		sectors: list(a?.sector ?? null),
		regions: list(a?.servingRegion ?? null),
		nations: list(a?.nation ?? null),
	};
	const where = a?.nationName ?? a?.nation ?? "a covenant nation";
	const project = a?.projectName ?? "A project";
	switch (event.type) {
		case "covenant.projects.created":
			return {
				...base,
				category: "projects",
				title: `New ${sectorName(a?.sector ?? null) || "covenant"} project`,
				body: `${project} in ${where}`,
			};
		case "covenant.projects.updated": {
			const status = statusChange(event.data);
			if (!status) return null;
			return {
				...base,
				category: "projects",
				title: `Project ${status}`,
				body: `${project} in ${where} is now ${status}`,
			};
		}
		case "covenant.payments.distributed":
			return {
				...base,
				category: "distributions",
				title: "Profit distributed",
				body: `${formatUsd(event.data.amount_cents as number)} from ${a?.projectName ?? "a covenant project"} was distributed to the nations`,
			};
		case "alerts.anomaly.detected": {
			const d = event.data as AnomalyDetectedData;
			return {
				...base,
				category: "alerts",
				title: "Unusual distribution volume",
				body: `${formatUsd(d.value_cents)} distributed in ${d.serving_region}${d.sector ? `/${d.sector}` : ""} on ${d.day}, against a ${d.window_days}-day mean of ${formatUsd(Math.round(d.mean_cents))}`,
				sectors: list(d.sector),
				regions: [d.serving_region],
				nations: [],
			};
		}
		case "notifications.push.queued": {
			const d = event.data as PushQueuedData;
			return {
				...base,
				category: "announcements",
				title: d.title,
				body: d.body,
				payload: { ...base.payload, ...(d.url ? { url: d.url } : {}) },
				userIds: d.audience.user_ids?.length ? d.audience.user_ids : null,
				sectors: d.audience.sectors ?? [],
				regions: d.audience.regions ?? [],
				nations: d.audience.nations ?? [],
			};
		}
		default:
			return null;
	}
}
