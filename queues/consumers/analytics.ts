import { sql } from "drizzle-orm";
import { z } from "zod";
import { analyticsDaily, analyticsDailyTransfers } from "../../workers/db/schema/analytics.ts";
import { type Tx, textArray } from "../db.ts";
import { type CloudEvent, createEvent } from "../envelope.ts";
import type { AnomalyDetectedData } from "../events/anomaly-detected.ts";
import { enqueueInTransaction } from "../outbox.ts";
import { resolveAttributes } from "./attributes.ts";
import type { EventConsumer } from "./runner.ts";

export const DISTRIBUTION_VOLUME_RULE = "distribution-volume";

const AnomalyConfig = z.object({
	ANOMALY_STDDEV_THRESHOLD: z.coerce.number().positive().default(3),
	ANOMALY_WINDOW_DAYS: z.coerce.number().int().min(2).max(365).default(28),
	ANOMALY_MIN_HISTORY_DAYS: z.coerce.number().int().min(1).default(7),
});
export type AnomalyConfig = z.infer<typeof AnomalyConfig>;

export function anomalyConfig(env: Partial<Record<keyof AnomalyConfig, string>>): AnomalyConfig {
	// An empty string means "not set" (wrangler vars are strings).
	const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
	return AnomalyConfig.parse(set);
}

interface DailyDelta {
	day: string;
	servingRegion: string;
	sector: string;
	projectsCreated: number;
	projectsUpdated: number;
	distributions: number;
	distributionsCents: number;
}

interface TransferDelta {
	day: string;
	servingRegion: string;
	sector: string;
	kind: string;
	transfers: number;
	amountCents: number;
}

/** The UTC day an event happened on. */
const dayOf = (event: CloudEvent) => new Date(event.time).toISOString().slice(0, 10);

/**
 * The analytics consumer: adds each event to the day × serving region × sector rollups (projects created and
 * updated, ledger transfers and amounts by kind, distributions), then checks the distribution-volume rule for
 * every day it touched; an anomaly is recorded once and its `alerts.anomaly.detected` event goes through the
 * outbox in the same transaction.
 */
export const analyticsConsumer: EventConsumer = {
	name: "analytics",
	async apply(tx, events, { env, now }) {
		const attributes = await resolveAttributes(tx, events);
		const daily = new Map<string, DailyDelta>();
		const transfers = new Map<string, TransferDelta>();
		for (const event of events) {
			const a = attributes.get(event.id);
			if (!a?.servingRegion) {
				throw new Error(
					`cannot attribute ${event.type} ${event.id} to a serving region: it names none, and no project or nation it names was found`,
				);
			}
			const day = dayOf(event);
			const sector = a.sector ?? "";
			const key = `${day}|${a.servingRegion}|${sector}`;
			const d = daily.get(key) ?? {
				day,
				servingRegion: a.servingRegion,
				sector,
				projectsCreated: 0,
				projectsUpdated: 0,
				distributions: 0,
				distributionsCents: 0,
			};
			switch (event.type) {
				case "covenant.projects.created":
					d.projectsCreated++;
					break;
				case "covenant.projects.updated":
					d.projectsUpdated++;
					break;
				case "covenant.payments.distributed":
					d.distributions++;
					d.distributionsCents += event.data.amount_cents as number;
					break;
				case "covenant.payments.recorded": {
					const kind = event.data.kind as string;
					const tkey = `${key}|${kind}`;
					const t = transfers.get(tkey) ?? {
						day,
						servingRegion: a.servingRegion,
						sector,
						kind,
						transfers: 0,
						amountCents: 0,
					};
					t.transfers++;
					t.amountCents += event.data.amount_cents as number;
					transfers.set(tkey, t);
					continue;
				}
				default:
					continue;
			}
			daily.set(key, d);
		}

		if (daily.size > 0) {
			await tx
				.insert(analyticsDaily)
				.values([...daily.values()])
				.onConflictDoUpdate({
					target: [analyticsDaily.day, analyticsDaily.servingRegion, analyticsDaily.sector],
					set: {
						projectsCreated: sql`${analyticsDaily.projectsCreated} + excluded.projects_created`,
						projectsUpdated: sql`${analyticsDaily.projectsUpdated} + excluded.projects_updated`,
						distributions: sql`${analyticsDaily.distributions} + excluded.distributions`,
						distributionsCents: sql`${analyticsDaily.distributionsCents} + excluded.distributions_cents`,
						updatedAt: sql`now()`,
					},
				});
		}
		if (transfers.size > 0) {
			await tx
				.insert(analyticsDailyTransfers)
				.values([...transfers.values()])
				.onConflictDoUpdate({
					target: [
						analyticsDailyTransfers.day,
						analyticsDailyTransfers.servingRegion,
						analyticsDailyTransfers.sector,
						analyticsDailyTransfers.kind,
					],
					set: {
						transfers: sql`${analyticsDailyTransfers.transfers} + excluded.transfers`,
						amountCents: sql`${analyticsDailyTransfers.amountCents} + excluded.amount_cents`,
						updatedAt: sql`now()`,
					},
				});
		}

		const touched = [...daily.values()].filter((d) => d.distributions > 0);
		if (touched.length === 0) return undefined;
		const alerts = await detectDistributionAnomalies(tx, touched, anomalyConfig(env), now);
		if (alerts.length === 0) return undefined;
		await enqueueInTransaction(tx, alerts);
		return { outbox: alerts.map((a) => a.id) };
	},
};

/**
 * The rule: a day's distribution volume for a serving region and sector is anomalous when it exceeds the
 * trailing window's mean by more than N standard deviations. The window is the `windowDays` days before it,
 * missing days counting as zero; it needs `minHistoryDays` days with distributions to judge at all. Only
 * upward deviations count (a day's volume grows as the day goes, so a low value is not final).
 */
async function detectDistributionAnomalies(
	tx: Tx,
	touched: DailyDelta[],
	config: AnomalyConfig,
	now: Date,
): Promise<CloudEvent[]> {
	const stats = await tx.execute<{
		day: string;
		serving_region: string;
		sector: string;
		value: number;
		total: number;
		total_sq: number;
		days_with_data: number;
	}>(sql`
		select d.day::text as day, d.serving_region, d.sector, d.distributions_cents::float8 as value,
			coalesce(sum(h.distributions_cents::float8), 0)::float8 as total,
			coalesce(sum(h.distributions_cents::float8 ^ 2), 0)::float8 as total_sq,
			count(h.day) filter (where h.distributions_cents > 0)::int as days_with_data
		from analytics_daily d
		left join analytics_daily h
			on h.serving_region = d.serving_region and h.sector = d.sector
			and h.day >= d.day - ${config.ANOMALY_WINDOW_DAYS}::int and h.day < d.day
		where (d.day, d.serving_region, d.sector) in (
			select * from unnest(
				${textArray(touched.map((t) => t.day))}::date[],
				${textArray(touched.map((t) => t.servingRegion))},
				${textArray(touched.map((t) => t.sector))}
			)
		)
		group by d.day, d.serving_region, d.sector, d.distributions_cents`);

	const found: AnomalyDetectedData[] = [];
	for (const row of stats.rows) {
		if (Number(row.days_with_data) < config.ANOMALY_MIN_HISTORY_DAYS) continue;
		const window = config.ANOMALY_WINDOW_DAYS;
		const mean = Number(row.total) / window;
		const stddev = Math.sqrt(Math.max(0, Number(row.total_sq) / window - mean * mean));
		const value = Number(row.value);
		if (value <= mean + config.ANOMALY_STDDEV_THRESHOLD * stddev) continue;
		found.push({
			rule: DISTRIBUTION_VOLUME_RULE,
			day: row.day,
			serving_region: row.serving_region as AnomalyDetectedData["serving_region"],
			sector: (row.sector || null) as AnomalyDetectedData["sector"],
			value_cents: value,
			mean_cents: Math.round(mean),
			stddev_cents: Math.round(stddev),
			threshold_stddevs: config.ANOMALY_STDDEV_THRESHOLD,
			window_days: window,
		});
	}
	if (found.length === 0) return [];

	const events = found.map((a) =>
		createEvent(
			{
				type: "alerts.anomaly.detected",
				// Deterministic: the same anomaly always announces itself under the same id.
				id: `anomaly:${a.rule}:${a.day}:${a.serving_region}:${a.sector ?? "none"}`,
				subject: `analytics/regions/${a.serving_region}/sectors/${a.sector ?? "none"}/days/${a.day}`,
				time: now,
				data: { ...a },
			},
			{ source: "covenant-edge/analytics" },
		),
	);
	// Recorded once per rule, day, region and sector; only the newly recorded ones are announced.
	const inserted = await tx.execute<{ event_id: string }>(sql`
		insert into analytics_anomalies
			(rule, day, serving_region, sector, value_cents, mean_cents, stddev_cents, threshold_stddevs, event_id)
		select * from unnest(
			${textArray(found.map((a) => a.rule))},
			${textArray(found.map((a) => a.day))}::date[],
			${textArray(found.map((a) => a.serving_region))},
			${textArray(found.map((a) => a.sector ?? ""))},
			${textArray(found.map((a) => String(a.value_cents)))}::bigint[],
			${textArray(found.map((a) => String(a.mean_cents)))}::float8[],
			${textArray(found.map((a) => String(a.stddev_cents)))}::float8[],
			${textArray(found.map((a) => String(a.threshold_stddevs)))}::float8[],
			${textArray(events.map((e) => e.id))}
		)
		on conflict (rule, day, serving_region, sector) do nothing
		returning event_id`);
	const fresh = new Set(inserted.rows.map((r) => r.event_id));
	return events.filter((e) => fresh.has(e.id));
}
