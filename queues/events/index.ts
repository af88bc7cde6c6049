import type { z } from "zod";
import { AnomalyDetectedData } from "./anomaly-detected.ts";
import { CountriesUpdatedData } from "./countries-updated.ts";
import { PaymentRecordedData } from "./payment-recorded.ts";
import { PaymentsDistributedData } from "./payments-distributed.ts";
import { PermissionChangedData } from "./permission-changed.ts";
import { ProjectChangedData } from "./project-changed.ts";
import { PushQueuedData } from "./push-queued.ts";
import { SectorUpdatedData } from "./sector-updated.ts";
import { SyncChangesAppliedData } from "./sync-changes-applied.ts";
import { EVENT_TYPES, type EventType, sectorOfType } from "./types.ts";
import { UserAuthenticatedData } from "./user-authenticated.ts";
import { WebhookEndpointDisabledData } from "./webhook-endpoint-disabled.ts";

export * from "./types.ts";
export type {
	AnomalyDetectedData,
	CountriesUpdatedData,
	PaymentRecordedData,
	PaymentsDistributedData,
	PermissionChangedData,
	ProjectChangedData,
	PushQueuedData,
	SectorUpdatedData,
	UserAuthenticatedData,
};

/**
 * The data schema of every event type, checked when an event is produced and again when it is consumed.
 * Schemas are loose: producers may add fields, consumers read only the ones named here.
 */
export const EVENT_DATA_SCHEMAS = Object.fromEntries(
	EVENT_TYPES.map((type) => [type, schemaFor(type)]),
) as Record<EventType, z.ZodType<Record<string, unknown>>>;

function schemaFor(type: EventType): z.ZodType<Record<string, unknown>> {
	if (sectorOfType(type)) return SectorUpdatedData;
	switch (type) {
		case "covenant.countries.updated":
			return CountriesUpdatedData;
		case "covenant.projects.created":
		case "covenant.projects.updated":
			return ProjectChangedData;
		case "covenant.payments.recorded":
			return PaymentRecordedData;
		case "covenant.payments.distributed":
			return PaymentsDistributedData;
		case "alerts.anomaly.detected":
			return AnomalyDetectedData;
		case "notifications.push.queued":
			return PushQueuedData;
		case "users.authenticated":
			return UserAuthenticatedData;
		case "audit.permission_changed":
			return PermissionChangedData;
		case "sync.changes.applied":
			return SyncChangesAppliedData;
		case "webhooks.endpoint.disabled":
			return WebhookEndpointDisabledData;
		default:
			throw new Error(`no data schema for event type ${type}`);
	}
}
