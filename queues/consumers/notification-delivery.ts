import { sql } from "drizzle-orm";
import type { Database } from "../../workers/db/client.ts";
import type { DeliveryStatus, DevicePlatform } from "../../workers/db/schema/notifications.ts";
import { textArray } from "../db.ts";
import { createPushProviders, type PushEnv } from "../push/index.ts";
import type { PushOutcome, PushProvider } from "../push/provider.ts";

/** After this many attempts a delivery that keeps failing transiently is marked failed. */
export const MAX_DELIVERY_ATTEMPTS = 6;
/** A delivery claimed this long ago without a recorded answer is considered lost (the worker died) and re-sent. */
const STUCK_AFTER_SECONDS = 300;
const SEND_CONCURRENCY = 8;
const PUSH_TTL_SECONDS = 86_400;

type ClaimedDelivery = {
	id: number;
	event_id: string;
	platform: DevicePlatform;
	title: string;
	body: string;
	payload: Record<string, string>;
	attempts: number;
	device_id: string;
	token: string;
	p256dh: string | null;
	auth: string | null;
};

export interface DeliveryReport {
	claimed: number;
	sent: number;
	retry: number;
	failed: number;
	invalid_token: number;
}

/**
 * Claims deliveries (the given events' pending ones, or every due one for the sweep), sends them through the
 * platform's provider and records each answer. Claiming flips them to `sending` with SKIP LOCKED, so a
 * consumer and a sweep never send the same delivery at once; a device the provider calls gone is disabled.
 */
export async function sendDeliveries(
	env: PushEnv,
	db: Database,
	filter: { eventIds: string[] } | { due: true },
	options: { limit?: number; providers?: Record<DevicePlatform, PushProvider> } = {},
): Promise<DeliveryReport> {
	const limit = options.limit ?? 500;
	const which =
		"eventIds" in filter
			? sql`event_id = any(${textArray(filter.eventIds)}) and status = 'pending'`
			: sql`(status = 'pending' and updated_at < now() - make_interval(secs => least(3600, 30 * power(2, attempts))))
				or (status = 'sending' and updated_at < now() - make_interval(secs => ${STUCK_AFTER_SECONDS}))`;
	const claimed = await db.execute<ClaimedDelivery>(sql`
		update notification_deliveries d
		set status = 'sending', attempts = d.attempts + 1, updated_at = now()
		from notification_devices dev
		where d.id in (
			select id from notification_deliveries where ${which}
			order by id limit ${limit} for update skip locked
		) and dev.id = d.device_id
		returning d.id, d.event_id, d.platform, d.title, d.body, d.payload, d.attempts,
			dev.id as device_id, dev.token, dev.p256dh, dev.auth`);
	const rows = claimed.rows.map((r) => ({ ...r, id: Number(r.id), attempts: Number(r.attempts) }));
	const report: DeliveryReport = { claimed: rows.length, sent: 0, retry: 0, failed: 0, invalid_token: 0 };
	if (rows.length === 0) return report;

	const providers = options.providers ?? createPushProviders(env);
	const outcomes = new Array<PushOutcome>(rows.length);
	let next = 0;
	await Promise.all(
		Array.from({ length: Math.min(SEND_CONCURRENCY, rows.length) }, async () => {
			while (next < rows.length) {
				const index = next++;
				const row = rows[index] as ClaimedDelivery;
				try {
					outcomes[index] = await providers[row.platform].send(
						{ token: row.token, p256dh: row.p256dh, auth: row.auth },
						{
							title: row.title,
							body: row.body,
							data: row.payload,
							collapseId: row.event_id,
							ttlSeconds: PUSH_TTL_SECONDS,
						},
					);
				} catch (error) {
					outcomes[index] = { status: "retry", httpStatus: null, error: String(error) };
				}
			}
		}),
	);

	const results = rows.map((row, i) => {
		const outcome = outcomes[i] as PushOutcome;
		const status: DeliveryStatus =
			outcome.status === "retry"
				? row.attempts >= MAX_DELIVERY_ATTEMPTS
					? "failed"
					: "pending"
				: outcome.status;
		report[outcome.status]++;
		return {
			id: row.id,
			device_id: row.device_id,
			status,
			provider_status: outcome.httpStatus,
			provider_message_id: outcome.status === "sent" ? outcome.messageId : null,
			error: outcome.status === "sent" ? null : outcome.error.slice(0, 2000),
		};
	});
	await db.execute(sql`
		update notification_deliveries d set
			status = r.status, provider_status = r.provider_status, provider_message_id = r.provider_message_id,
			error = r.error, updated_at = now(), sent_at = case when r.status = 'sent' then now() else d.sent_at end
		from jsonb_to_recordset(${JSON.stringify(results)}::jsonb)
			as r(id bigint, status text, provider_status int, provider_message_id text, error text)
		where d.id = r.id`);
	const gone = results.filter((r) => r.status === "invalid_token");
	if (gone.length > 0) {
		await db.execute(sql`
			update notification_devices set disabled_at = now(), disabled_reason = r.error, updated_at = now()
			from jsonb_to_recordset(${JSON.stringify(gone)}::jsonb) as r(device_id uuid, error text)
			where id = r.device_id and disabled_at is null`);
	}
	return report;
}
