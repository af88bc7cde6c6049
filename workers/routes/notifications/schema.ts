import { z } from "@hono/zod-openapi";
import {
	DELIVERY_STATUSES,
	DEVICE_PLATFORMS,
	NOTIFICATION_CATEGORIES,
	type NotificationDeliveryRow,
	type NotificationDeviceRow,
	type NotificationSettingsRow,
} from "../../db/schema/notifications.ts";

export const DeviceSchema = z
	.object({
		id: z.string().uuid(),
		platform: z.enum(DEVICE_PLATFORMS),
		token_hint: z
			.string()
			.openapi({ description: "The last characters of the token or endpoint, to tell devices apart" }),
		label: z.string().nullable(),
		created_at: z.string(),
		updated_at: z.string(),
		disabled_at: z.string().nullable().openapi({
			description: "Set when the push service said the token is gone; register it again to re-enable",
		}),
		disabled_reason: z.string().nullable(),
	})
	.openapi("Device");
export type DeviceResponse = z.infer<typeof DeviceSchema>;

export function presentDevice(row: NotificationDeviceRow): DeviceResponse {
	return {
		id: row.id,
		platform: row.platform,
		token_hint: `…${row.token.slice(-8)}`,
		label: row.label,
		created_at: row.createdAt.toISOString(),
		updated_at: row.updatedAt.toISOString(),
		disabled_at: row.disabledAt?.toISOString() ?? null,
		disabled_reason: row.disabledReason,
	};
}

export const NotificationSettingsSchema = z
	.object({
		enabled: z.boolean().openapi({ description: "False mutes every notification" }),
		sectors: z.array(z.string()).openapi({ description: "Sectors you follow" }),
		regions: z.array(z.string()).openapi({ description: "Serving regions you follow" }),
		nations: z.array(z.string()).openapi({ description: "Nations (ISO alpha-2) you follow" }),
		categories: z
			.array(z.enum(NOTIFICATION_CATEGORIES))
			.openapi({ description: "Kinds of notification you receive for what you follow" }),
		version: z.number().int(),
		updated_at: z.string().nullable().openapi({ description: "null until you first save settings" }),
	})
	.openapi("NotificationSettings");
export type NotificationSettingsResponse = z.infer<typeof NotificationSettingsSchema>;

/** The settings of a user who never saved any: everything on, nothing followed. */
export const DEFAULT_SETTINGS: NotificationSettingsResponse = {
	enabled: true,
	sectors: [],
	regions: [],
	nations: [],
	categories: [...NOTIFICATION_CATEGORIES],
	version: 0,
	updated_at: null,
};

export function presentSettings(row: NotificationSettingsRow | undefined): NotificationSettingsResponse {
	if (!row) return DEFAULT_SETTINGS;
	return {
		enabled: row.enabled,
		sectors: row.sectors,
		regions: row.regions,
		nations: row.nations,
		categories: row.categories as NotificationSettingsResponse["categories"],
		version: row.version,
		updated_at: row.updatedAt.toISOString(),
	};
}

export const DeliverySchema = z
	.object({
		id: z.number().int(),
		event_id: z.string(),
		event_type: z.string(),
		device_id: z.string().uuid(),
		platform: z.enum(DEVICE_PLATFORMS),
		title: z.string(),
		body: z.string(),
		status: z.enum(DELIVERY_STATUSES),
		attempts: z.number().int(),
		provider_status: z.number().int().nullable(),
		error: z.string().nullable(),
		created_at: z.string(),
		sent_at: z.string().nullable(),
	})
	.openapi("NotificationDelivery");
export type DeliveryResponse = z.infer<typeof DeliverySchema>;

export function presentDelivery(row: NotificationDeliveryRow): DeliveryResponse {
	return {
		id: row.id,
		event_id: row.eventId,
		event_type: row.eventType,
		device_id: row.deviceId,
		platform: row.platform,
		title: row.title,
		body: row.body,
		status: row.status,
		attempts: row.attempts,
		provider_status: row.providerStatus,
		error: row.error,
		created_at: row.createdAt.toISOString(),
		sent_at: row.sentAt?.toISOString() ?? null,
	};
}
