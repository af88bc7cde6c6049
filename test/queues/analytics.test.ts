import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { anomalyConfig } from "../../queues/consumers/analytics.ts";
import type { RegionAnalyticsResponse } from "../../workers/routes/analytics/get-region-analytics.ts";
import type { SectorAnalyticsResponse } from "../../workers/routes/analytics/get-sector-analytics.ts";
import { bearer } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import { makeEvent, query, runBatch, runId } from "./support.ts";

/** A day of its own for each test (rollups are shared by every test writing events today). */
const isolatedDay = (year: number) => {
	const n = Number.parseInt(runId(), 16);
	return new Date(Date.UTC(year, n % 12, 1 + (n % 27))).toISOString().slice(0, 10);
};
const at = (day: string, time = "12:00:00") => new Date(`${day}T${time}Z`);

describe("analytics consumer", () => {
	it("rolls events up per day, serving region and sector, reading missing attributes from Postgres", async () => {
		const day = isolatedDay(2003);
		const [project] = await query<{ id: string; sector: string; serving_region: string }>(
			sql`select id::text, sector, serving_region from projects where nation_iso2 = 'BR' limit 1`,
		);
		if (!project) throw new Error("no Brazilian project in the seeds");
		const events = [
			makeEvent({ type: "covenant.projects.created", time: at(day), data: { project_id: project.id } }),
			makeEvent({ type: "covenant.projects.updated", time: at(day), data: { project_id: project.id } }),
			makeEvent({
				type: "covenant.payments.recorded",
				time: at(day),
				data: { nation: "BR", kind: "contribution", amount_cents: 250_00 },
			}),
			makeEvent({
				type: "covenant.payments.recorded",
				time: at(day),
				data: { nation: "BR", kind: "contribution", amount_cents: 100_00 },
			}),
			makeEvent({
				type: "covenant.payments.distributed",
				time: at(day),
				data: { distribution_id: runId(), amount_cents: 9_999_99, project_id: project.id },
			}),
		];
		const result = await runBatch(
			"analytics",
			events.map((body) => ({ body })),
		);
		expect(result.explicitAcks).toHaveLength(events.length);

		const daily = await query(sql`
			select serving_region, sector, projects_created, projects_updated, distributions, distributions_cents::text
			from analytics_daily where day = ${day}::date order by sector`);
		const brazil = await query<{ serving_region: string }>(
			sql`select serving_region from nations where iso2 = 'BR'`,
		);
		expect(daily).toEqual([
			{
				serving_region: project.serving_region,
				sector: project.sector,
				projects_created: 1,
				projects_updated: 1,
				distributions: 1,
				distributions_cents: "999999",
			},
		]);
		const transfers = await query(sql`
			select serving_region, sector, kind, transfers, amount_cents::text
			from analytics_daily_transfers where day = ${day}::date`);
		expect(transfers).toEqual([
			{
				serving_region: brazil[0]?.serving_region,
				sector: "",
				kind: "contribution",
				transfers: 2,
				amount_cents: "35000",
			},
		]);
	});

	it("flags a day's distribution volume beyond N standard deviations of the trailing window, once", async () => {
		const day = isolatedDay(2004);
		const region = "syd";
		const sector = "minerals";
		// 28 days of history around 1,000.00 a day.
		await query(sql`
			insert into analytics_daily (day, serving_region, sector, distributions, distributions_cents)
			select ${day}::date - g, ${region}, ${sector}, 1, 100000 + (g % 5) * 1000 from generate_series(1, 28) as g
			on conflict do nothing`);
		const distribution = (cents: number) =>
			makeEvent({
				type: "covenant.payments.distributed",
				time: at(day),
				data: { distribution_id: runId(), amount_cents: cents, sector, serving_region: region },
			});
		await runBatch("analytics", [{ body: distribution(101_000) }]);
		const anomalies = () =>
			query<{ event_id: string; value_cents: string }>(
				sql`select event_id, value_cents::text from analytics_anomalies where day = ${day}::date and serving_region = ${region} and sector = ${sector}`,
			);
		expect(await anomalies()).toEqual([]);

		await runBatch("analytics", [{ body: distribution(5_000_000) }]);
		const [anomaly] = await anomalies();
		expect(anomaly).toMatchObject({
			event_id: `anomaly:distribution-volume:${day}:${region}:${sector}`,
			value_cents: "5101000",
		});
		// The alert went out through the outbox right after the commit.
		expect(await query(sql`select 1 from event_outbox where event_id = ${anomaly?.event_id ?? ""}`)).toEqual(
			[],
		);

		await runBatch("analytics", [{ body: distribution(9_000_000) }]);
		expect(await anomalies()).toHaveLength(1);
	});

	it("reads its thresholds from the environment, with defaults", () => {
		expect(anomalyConfig({})).toEqual({
			ANOMALY_STDDEV_THRESHOLD: 3,
			ANOMALY_WINDOW_DAYS: 28,
			ANOMALY_MIN_HISTORY_DAYS: 7,
		});
		expect(
			anomalyConfig({ ANOMALY_STDDEV_THRESHOLD: "2.5", ANOMALY_WINDOW_DAYS: "" }).ANOMALY_STDDEV_THRESHOLD,
		).toBe(2.5);
		expect(() => anomalyConfig({ ANOMALY_WINDOW_DAYS: "1" })).toThrow();
	});
});

describe("GET /v1/analytics/sectors and /v1/analytics/regions", () => {
	it("sums the rollups over the range, in total or per day, within the caller's scope", async () => {
		const day = isolatedDay(2005);
		const next = new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10);
		const events = [
			makeEvent({
				type: "covenant.projects.created",
				time: at(day),
				data: { project_id: runId(), sector: "energy", serving_region: "ams" },
			}),
			makeEvent({
				type: "covenant.projects.created",
				time: at(next),
				data: { project_id: runId(), sector: "energy", serving_region: "jnb" },
			}),
			makeEvent({
				type: "covenant.payments.recorded",
				time: at(next),
				data: {
					nation: "KE",
					kind: "distribution",
					amount_cents: 700,
					sector: "energy",
					serving_region: "jnb",
				},
			}),
		];
		await runBatch(
			"analytics",
			events.map((body) => ({ body })),
		);
		const admin = await bearer("admin");

		const sectors = await json<SectorAnalyticsResponse>(
			await call(`/v1/analytics/sectors?from=${day}&to=${next}`, { headers: admin }),
		);
		expect(sectors).toMatchObject({ from: day, to: next, interval: "total" });
		expect(sectors.data).toEqual([
			{
				sector: "energy",
				day: null,
				projects_created: 2,
				projects_updated: 0,
				distributions: 0,
				distributions_cents: 0,
				transfers: { distribution: { count: 1, amount_cents: 700 } },
			},
		]);

		const perDay = await json<RegionAnalyticsResponse>(
			await call(`/v1/analytics/regions?from=${day}&to=${next}&interval=day`, { headers: admin }),
		);
		expect(perDay.data.map((r) => [r.serving_region, r.day, r.projects_created])).toEqual([
			["ams", day, 1],
			["jnb", next, 1],
		]);

		const regional = await json<RegionAnalyticsResponse>(
			await call(`/v1/analytics/regions?from=${day}&to=${next}`, { headers: await bearer("region:jnb") }),
		);
		expect(regional.data.map((r) => r.serving_region)).toEqual(["jnb"]);
	});

	it("refuses bad ranges (400), anonymous callers (401) and scopes without analytics:read (403)", async () => {
		const admin = await bearer("admin");
		expect(
			(await call("/v1/analytics/sectors?from=2020-02-01&to=2020-01-01", { headers: admin })).status,
		).toBe(400);
		expect(
			(await call("/v1/analytics/sectors?from=2019-01-01&to=2020-12-31", { headers: admin })).status,
		).toBe(400);
		expect((await call("/v1/analytics/regions?from=yesterday", { headers: admin })).status).toBe(400);
		expect((await call("/v1/analytics/regions?bogus=1", { headers: admin })).status).toBe(400);
		expect((await call("/v1/analytics/sectors")).status).toBe(401);
		expect((await call("/v1/analytics/sectors", { headers: await bearer("partner") })).status).toBe(403);
		expect((await call("/v1/analytics/regions", { headers: await bearer("viewer") })).status).toBe(200);
	});
});
