import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { verifyChain } from "../../queues/consumers/audit-chain.ts";
import type { CloudEvent, NewEvent } from "../../queues/envelope.ts";
import { withDb } from "../../workers/db/client.ts";
import { bearer } from "../support/auth.ts";
import { call } from "../support/http.ts";
import { deliverChaotically, seeded } from "./chaos.ts";
import {
	bodyJson,
	browserSubscription,
	pushCredentials,
	receivedRequests,
	receiverUrl,
} from "./push-fixtures.ts";
import { dispatchBatch, makeEvent, query, runId } from "./support.ts";

const CHAOS = { failureRate: 0.2, maxRetries: 5, batchSize: 10 };

/** Bodies no consumer can ever process: not an event, an unknown type, data of the wrong shape. */
function invalidBodies(tag: string): unknown[] {
	return [
		{ poison: tag },
		`plain text ${tag}`,
		{ ...makeEvent({ type: "users.authenticated", data: {} }), type: "covenant.unknown.happened" },
		{
			...makeEvent({
				type: "covenant.payments.recorded",
				data: { nation: "KE", kind: "contribution", amount_cents: 1 },
			}),
			data: { nation: "KE", kind: "contribution", amount_cents: "12.50" },
		},
	];
}

async function deadLetterRows(messageIds: string[]) {
	return query<{ message_id: string; error: string | null; consumer: string }>(
		sql`select message_id, error, consumer from dead_letters where message_id = any(${sql.param(messageIds)}::text[])`,
	);
}

describe("each event delivered 1-3 times, out of order, with 20% of handler calls failing", () => {
	it("audit: one row per event, an intact chain, and exactly the poison messages dead-lettered", async () => {
		const tag = runId();
		const random = seeded(11);
		const types = ["users.authenticated", "audit.permission_changed", "covenant.countries.updated"] as const;
		const events = Array.from({ length: 50 }, (_, i) => {
			const type = types[Math.floor(random() * types.length)] ?? "users.authenticated";
			return makeEvent({
				type,
				actor: `chaos-${tag}`,
				subject: `things/${i}`,
				data: type === "covenant.countries.updated" ? { nation: "KE", n: i } : { n: i },
			});
		});
		// A valid event Postgres refuses (jsonb holds no NUL): poison that only the effect discovers.
		const refusedByPostgres = makeEvent({
			type: "users.authenticated",
			actor: `chaos-${tag}`,
			data: { note: "a\u0000b" },
		});
		const poison = [...invalidBodies(tag), refusedByPostgres];

		const report = await deliverChaotically({
			queue: "covenant-audit",
			bodies: [...events, ...poison],
			seed: 7,
			...CHAOS,
		});
		expect(report.injectedFailures).toBeGreaterThan(0);

		const rows = await query<{ event_id: string; n: string }>(
			sql`select event_id, count(*)::text as n from audit_log where actor = ${`chaos-${tag}`} group by event_id`,
		);
		expect(rows.map((r) => r.event_id).sort()).toEqual(events.map((e) => e.id).sort());
		expect(rows.every((r) => r.n === "1")).toBe(true);

		const verification = await withDb(env, (db) => verifyChain(db, { limit: 20_000 }));
		expect(verification.first_broken).toBeNull();
		expect(verification.ok).toBe(true);

		const poisonMessages = report.messages.filter((m) => poison.includes(m.body)).map((m) => m.id);
		expect(report.deadLettered.map((d) => d.id).sort()).toEqual(poisonMessages.sort());
		const recorded = await deadLetterRows(report.messages.map((m) => m.id));
		expect(recorded.map((r) => r.message_id).sort()).toEqual(poisonMessages.sort());
		expect(recorded.every((r) => r.consumer === "audit" && r.error)).toBe(true);
	});

	it("analytics: the rollups equal those of a single, clean delivery of the same events", async () => {
		const tag = runId();
		const random = seeded(23);
		const regions = ["ams", "jnb", "sin"] as const;
		const sectors = ["energy", "health", "tech"] as const;
		const pickOf = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
		const specs: NewEvent[] = Array.from({ length: 40 }, (_, i) => {
			const kind = pickOf(["created", "updated", "recorded", "distributed"] as const);
			const hour = String(Math.floor(random() * 24)).padStart(2, "0");
			const time = new Date(`2001-01-01T${hour}:00:00Z`);
			if (kind === "recorded") {
				return {
					type: "covenant.payments.recorded",
					time,
					data: {
						nation: pickOf(["KE", "FR", "JP"]),
						kind: pickOf(["contribution", "distribution"]),
						amount_cents: 1000 + i,
					},
				};
			}
			if (kind === "distributed") {
				return {
					type: "covenant.payments.distributed",
					time,
					data: {
						distribution_id: `d-${tag}-${i}`,
						amount_cents: 5000 + i,
						sector: pickOf(sectors),
						serving_region: pickOf(regions),
					},
				};
			}
			return {
				type: kind === "created" ? "covenant.projects.created" : "covenant.projects.updated",
				time,
				data: { project_id: `p-${tag}-${i}`, sector: pickOf(sectors), serving_region: pickOf(regions) },
			};
		});
		// The same events on two days: once delivered cleanly, once through the chaos.
		const onDay = (day: string) =>
			specs.map((s) =>
				makeEvent({ ...s, time: new Date(`${day}T${(s.time as Date).toISOString().slice(11)}`) }),
			);
		const cleanDay = `2001-0${1 + (Number.parseInt(tag, 16) % 8)}-03`;
		const chaosDay = cleanDay.replace(/-03$/, "-04");
		const clean = onDay(cleanDay);
		for (let i = 0; i < clean.length; i += 10) {
			const result = await dispatchBatch(
				"covenant-analytics",
				clean.slice(i, i + 10).map((body) => ({ body })),
			);
			expect(result.retryMessages).toEqual([]);
		}
		const unattributable = makeEvent({
			type: "covenant.payments.recorded",
			data: { nation: "ZZ", kind: "contribution", amount_cents: 1 },
		});
		const poison = [...invalidBodies(tag), unattributable];
		const report = await deliverChaotically({
			queue: "covenant-analytics",
			bodies: [...onDay(chaosDay), ...poison],
			seed: 5,
			...CHAOS,
		});

		const rollups = async (day: string) => ({
			daily: await query(sql`
				select serving_region, sector, projects_created, projects_updated, distributions, distributions_cents
				from analytics_daily where day = ${day}::date order by serving_region, sector`),
			transfers: await query(sql`
				select serving_region, sector, kind, transfers, amount_cents
				from analytics_daily_transfers where day = ${day}::date order by serving_region, sector, kind`),
		});
		const single = await rollups(cleanDay);
		expect(single.daily.length).toBeGreaterThan(0);
		expect(single.transfers.length).toBeGreaterThan(0);
		expect(await rollups(chaosDay)).toEqual(single);

		const poisonMessages = report.messages.filter((m) => poison.includes(m.body)).map((m) => m.id);
		const recorded = await deadLetterRows(report.messages.map((m) => m.id));
		expect(recorded.map((r) => r.message_id).sort()).toEqual(poisonMessages.sort());
		expect(
			recorded.find((r) => r.message_id === report.messages.find((m) => m.body === unattributable)?.id)
				?.error,
		).toMatch(/cannot attribute/);
	});

	it("notifications: one push per device per event, whatever the redeliveries", async () => {
		const tag = runId();
		const user = `chaos-user-${tag}`;
		const credentials = await pushCredentials();
		const auth = await bearer("viewer", user);
		const settings = await call("/v1/me/notification-settings", {
			method: "PUT",
			headers: auth,
			json: { enabled: true, sectors: ["energy"], regions: [], nations: [], categories: ["projects"] },
		});
		expect(settings.status).toBe(200);
		const fcmToken = `chaos-${tag}-fcm-token-0123456789`;
		const browser = await browserSubscription(`${receiverUrl()}/webpush/chaos-${tag}`);
		for (const json of [
			{ platform: "fcm", token: fcmToken },
			{ platform: "webpush", subscription: browser.subscription },
		]) {
			const response = await call("/v1/me/devices", { method: "POST", headers: auth, json }, credentials.env);
			expect(response.status).toBe(201);
		}

		const followed = Array.from({ length: 8 }, (_, i) =>
			makeEvent({
				type: "covenant.projects.created",
				data: {
					project_id: `p-${tag}-${i}`,
					name: `Solar ${i}`,
					sector: "energy",
					serving_region: "ams",
					nation: "NL",
				},
			}),
		);
		const notFollowed = Array.from({ length: 4 }, (_, i) =>
			makeEvent({
				type: "covenant.projects.created",
				data: { project_id: `q-${tag}-${i}`, sector: "health", serving_region: "ams", nation: "NL" },
			}),
		);
		const poison = invalidBodies(tag);
		const report = await deliverChaotically({
			queue: "covenant-notifications",
			bodies: [...followed, ...notFollowed, ...poison],
			seed: 3,
			...CHAOS,
			env: credentials.env,
		});

		const deliveries = await query<{ event_id: string; platform: string; status: string }>(
			sql`select event_id, platform, status from notification_deliveries where user_id = ${user}`,
		);
		expect(deliveries).toHaveLength(followed.length * 2);
		expect(new Set(deliveries.map((d) => `${d.event_id}|${d.platform}`)).size).toBe(followed.length * 2);
		expect(deliveries.every((d) => d.status === "sent")).toBe(true);

		const followedIds = new Set(followed.map((e: CloudEvent) => e.id));
		// Pushes to this test's device only: people other tests created may follow the same sector.
		const fcmPushes = (await receivedRequests("/fcm/"))
			.map((r) => bodyJson<{ message: { token: string; data: { event_id: string } } }>(r).message)
			.filter((m) => m.token === fcmToken && followedIds.has(m.data.event_id));
		expect(fcmPushes.map((m) => m.data.event_id).sort()).toEqual([...followedIds].sort());
		expect(await receivedRequests(`/webpush/chaos-${tag}`)).toHaveLength(followed.length);

		const poisonMessages = report.messages.filter((m) => poison.includes(m.body)).map((m) => m.id);
		expect((await deadLetterRows(report.messages.map((m) => m.id))).map((r) => r.message_id).sort()).toEqual(
			poisonMessages.sort(),
		);
	});
});
