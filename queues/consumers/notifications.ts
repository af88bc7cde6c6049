import { sql } from "drizzle-orm";
import { NOTIFICATION_CATEGORIES } from "../../workers/db/schema/notifications.ts";
import { resolveAttributes } from "./attributes.ts";
import { notificationFor } from "./notification-content.ts";
import { sendDeliveries } from "./notification-delivery.ts";
import type { EventConsumer } from "./runner.ts";

const DEFAULT_CATEGORIES = `{${NOTIFICATION_CATEGORIES.join(",")}}`;

/**
 * The notifications consumer: turns each event into one delivery row per device of every user it concerns
 * (subscribed to its sector, serving region or nation, in its category, or named by an announcement), in the
 * transaction, so a redelivered event never pushes twice. The pushes go out after the commit; what fails
 * transiently is re-sent by the sweep.
 */
export const notificationsConsumer: EventConsumer = {
	name: "notifications",
	async apply(tx, events) {
		const attributes = await resolveAttributes(tx, events);
		const specs = events.map((e) => notificationFor(e, attributes.get(e.id))).filter((s) => s !== null);
		if (specs.length === 0) return undefined;
		const rows = specs.map((s) => ({
			event_id: s.eventId,
			event_type: s.eventType,
			category: s.category,
			title: s.title,
			body: s.body,
			payload: s.payload,
			user_ids: s.userIds,
			sectors: s.sectors,
			regions: s.regions,
			nations: s.nations,
		}));
		await tx.execute(sql`
			with spec as (
				select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as s(
					event_id text, event_type text, category text, title text, body text, payload jsonb,
					user_ids text[], sectors text[], regions text[], nations text[])
			),
			recipients as (
				select s.*, ns.user_id from spec s
				join notification_settings ns
					on ns.enabled and s.category = any(ns.categories)
					and (ns.sectors && s.sectors or ns.regions && s.regions or ns.nations && s.nations)
				union all
				select s.*, u.user_id from spec s
				cross join lateral unnest(s.user_ids) as u(user_id)
				left join notification_settings ns on ns.user_id = u.user_id
				where coalesce(ns.enabled, true)
					and s.category = any(coalesce(ns.categories, ${DEFAULT_CATEGORIES}::text[]))
			)
			insert into notification_deliveries (event_id, event_type, user_id, device_id, platform, title, body, payload)
			select r.event_id, r.event_type, r.user_id, d.id, d.platform, r.title, r.body, r.payload
			from recipients r
			join notification_devices d on d.user_id = r.user_id and d.disabled_at is null
			on conflict (event_id, device_id) do nothing`);
		return undefined;
	},
	async afterCommit(events, { env, db }) {
		await sendDeliveries(env, db, { eventIds: events.map((e) => e.id) });
	},
};
