import { sql } from "drizzle-orm";
import {
	bigserial,
	boolean,
	check,
	index,
	integer,
	jsonb,
	pgTable,
	text,
	timestamp,
	unique,
	uuid,
} from "drizzle-orm/pg-core";

/** The kinds of notification a user can opt into (settings.categories). */
export const NOTIFICATION_CATEGORIES = ["projects", "distributions", "alerts", "announcements"] as const;
export type NotificationCategory = (typeof NOTIFICATION_CATEGORIES)[number];

export const DEVICE_PLATFORMS = ["fcm", "apns", "webpush"] as const;
export type DevicePlatform = (typeof DEVICE_PLATFORMS)[number];

export const DELIVERY_STATUSES = ["pending", "sending", "sent", "failed", "invalid_token"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * A user's subscriptions, keyed by the token's `sub`. An event matches when it is in one of the chosen
 * categories and names a subscribed sector, serving region or nation.
 */
export const notificationSettings = pgTable(
	"notification_settings",
	{
		userId: text("user_id").primaryKey(),
		enabled: boolean("enabled").notNull().default(true),
		sectors: text("sectors").array().notNull().default(sql`'{}'::text[]`),
		regions: text("regions").array().notNull().default(sql`'{}'::text[]`),
		nations: text("nations").array().notNull().default(sql`'{}'::text[]`),
		categories: text("categories")
			.array()
			.notNull()
			.default(sql`'{projects,distributions,alerts,announcements}'::text[]`),
		createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		version: integer("version").notNull().default(1),
	},
	(t) => [
		index("notification_settings_sectors_idx").using("gin", t.sectors),
		index("notification_settings_regions_idx").using("gin", t.regions),
		index("notification_settings_nations_idx").using("gin", t.nations),
	],
);

export type NotificationSettingsRow = typeof notificationSettings.$inferSelect;

/**
 * A user's push targets. `token` is the FCM registration token, the APNs device token, or the Web Push
 * endpoint URL (with the subscription's p256dh and auth keys). A token belongs to one user at a time:
 * registering it again moves it.
 */
export const notificationDevices = pgTable(
	"notification_devices",
	{
		id: uuid("id").primaryKey().defaultRandom(),
		userId: text("user_id").notNull(),
		platform: text("platform").$type<DevicePlatform>().notNull(),
		token: text("token").notNull(),
		p256dh: text("p256dh"),
		auth: text("auth"),
		label: text("label"),
		createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		/** Set when the provider said the token is gone; such a device receives nothing until re-registered. */
		disabledAt: timestamp("disabled_at", { withTimezone: true, mode: "date" }),
		disabledReason: text("disabled_reason"),
	},
	(t) => [
		unique("notification_devices_token_unique").on(t.platform, t.token),
		index("notification_devices_user_idx").on(t.userId, t.createdAt),
		check("notification_devices_platform_check", sql`${t.platform} in ('fcm', 'apns', 'webpush')`),
		check(
			"notification_devices_webpush_keys_check",
			sql`${t.platform} <> 'webpush' or (${t.p256dh} is not null and ${t.auth} is not null)`,
		),
	],
);

export type NotificationDeviceRow = typeof notificationDevices.$inferSelect;

/**
 * One push to one device for one event: created exactly once (unique event × device) in the consumer's
 * transaction, then sent; the provider's answer is recorded. Pending or stuck rows are re-sent by the sweep.
 */
export const notificationDeliveries = pgTable(
	"notification_deliveries",
	{
		id: bigserial("id", { mode: "number" }).primaryKey(),
		eventId: text("event_id").notNull(),
		eventType: text("event_type").notNull(),
		userId: text("user_id").notNull(),
		deviceId: uuid("device_id")
			.notNull()
			.references(() => notificationDevices.id, { onDelete: "cascade" }),
		platform: text("platform").$type<DevicePlatform>().notNull(),
		title: text("title").notNull(),
		body: text("body").notNull(),
		/** Extra key/values delivered with the push (event id, type, deep link). */
		payload: jsonb("payload").$type<Record<string, string>>().notNull(),
		status: text("status").$type<DeliveryStatus>().notNull().default("pending"),
		attempts: integer("attempts").notNull().default(0),
		providerStatus: integer("provider_status"),
		providerMessageId: text("provider_message_id"),
		error: text("error"),
		createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		sentAt: timestamp("sent_at", { withTimezone: true, mode: "date" }),
	},
	(t) => [
		unique("notification_deliveries_once").on(t.eventId, t.deviceId),
		index("notification_deliveries_status_idx").on(t.status, t.updatedAt),
		index("notification_deliveries_user_idx").on(t.userId, t.createdAt),
		check(
			"notification_deliveries_status_check",
			sql`${t.status} in ('pending', 'sending', 'sent', 'failed', 'invalid_token')`,
		),
	],
);

export type NotificationDeliveryRow = typeof notificationDeliveries.$inferSelect;
