import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sendDeliveries } from "../../queues/consumers/notification-delivery.ts";
import { withDb } from "../../workers/db/client.ts";
import type { DeviceListResponse } from "../../workers/routes/notifications/list-devices.ts";
import type { DeliveryPageResponse } from "../../workers/routes/notifications/list-notifications.ts";
import type {
	DeviceResponse,
	NotificationSettingsResponse,
} from "../../workers/routes/notifications/schema.ts";
import { bearer } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import { browserSubscription, pushCredentials, receivedRequests, receiverUrl } from "./push-fixtures.ts";
import { makeEvent, query, runBatch, runId } from "./support.ts";

const settingsBody = (overrides: Record<string, unknown> = {}) => ({
	enabled: true,
	sectors: [],
	regions: [],
	nations: [],
	categories: ["projects", "distributions", "alerts", "announcements"],
	...overrides,
});

async function person(scope = "viewer") {
	const sub = `person-${runId()}`;
	return { sub, auth: await bearer(scope, sub) };
}

describe("notification settings", () => {
	it("answers the defaults until saved, then exactly what was saved (sorted, deduplicated)", async () => {
		const { auth } = await person();
		const before = await json<NotificationSettingsResponse>(
			await call("/v1/me/notification-settings", { headers: auth }),
		);
		expect(before).toMatchObject({ enabled: true, sectors: [], nations: [], version: 0, updated_at: null });

		const put = await call("/v1/me/notification-settings", {
			method: "PUT",
			headers: auth,
			json: settingsBody({ sectors: ["health", "energy", "energy"], nations: ["KE"], regions: ["jnb"] }),
		});
		expect(put.status).toBe(200);
		const saved = await json<NotificationSettingsResponse>(put);
		expect(saved).toMatchObject({
			sectors: ["energy", "health"],
			nations: ["KE"],
			regions: ["jnb"],
			version: 1,
		});

		// The same PUT again changes nothing, not even the version.
		const again = await json<NotificationSettingsResponse>(
			await call("/v1/me/notification-settings", {
				method: "PUT",
				headers: auth,
				json: settingsBody({ sectors: ["energy", "health"], nations: ["KE"], regions: ["jnb"] }),
			}),
		);
		expect(again).toEqual(saved);
		expect(await json(await call("/v1/me/notification-settings", { headers: auth }))).toEqual(saved);
	});

	it("refuses unknown nations (422), unknown sectors and fields (400), partial bodies (400)", async () => {
		const { auth } = await person();
		const put = (body: unknown) =>
			call("/v1/me/notification-settings", { method: "PUT", headers: auth, json: body });
		const unknownNation = await put(settingsBody({ nations: ["KE", "XQ"] }));
		expect(unknownNation.status).toBe(422);
		expect((await json(unknownNation)).detail).toMatch(/XQ/);
		expect((await put(settingsBody({ sectors: ["fishing"] }))).status).toBe(400);
		const extra = await put({ ...settingsBody(), version: 3 });
		expect(extra.status).toBe(400);
		expect((await json(extra)).errors).toEqual([
			expect.objectContaining({ message: expect.stringMatching(/version \(read-only\)/) }),
		]);
		expect((await put({ enabled: false })).status).toBe(400);
	});

	it("needs a signed-in person", async () => {
		expect((await call("/v1/me/notification-settings")).status).toBe(401);
		expect(
			(await call("/v1/me/devices", { method: "POST", json: { platform: "fcm", token: "x".repeat(30) } }))
				.status,
		).toBe(401);
		expect(
			(await call("/v1/me/notifications", { headers: { authorization: "Bearer not-a-jwt" } })).status,
		).toBe(401);
	});
});

describe("devices", () => {
	it("registers idempotently (201, then 200), lists with a token hint, and removes only your own", async () => {
		const { auth } = await person();
		const other = await person();
		const token = `fcm-${runId()}-registration-token`;
		const first = await call("/v1/me/devices", {
			method: "POST",
			headers: auth,
			json: { platform: "fcm", token, label: "Phone" },
		});
		expect(first.status).toBe(201);
		const device = await json<DeviceResponse>(first);
		expect(first.headers.get("location")).toBe(`/v1/me/devices/${device.id}`);
		expect(device).toMatchObject({
			platform: "fcm",
			label: "Phone",
			token_hint: `…${token.slice(-8)}`,
			disabled_at: null,
		});

		const repeat = await call("/v1/me/devices", {
			method: "POST",
			headers: auth,
			json: { platform: "fcm", token },
		});
		expect(repeat.status).toBe(200);
		expect((await json<DeviceResponse>(repeat)).id).toBe(device.id);

		const list = await json<DeviceListResponse>(await call("/v1/me/devices", { headers: auth }));
		expect(list.data.map((d) => d.id)).toEqual([device.id]);
		expect(JSON.stringify(list)).not.toContain(token);

		expect(
			(await call(`/v1/me/devices/${device.id}`, { method: "DELETE", headers: other.auth })).status,
		).toBe(404);
		expect((await call(`/v1/me/devices/${device.id}`, { method: "DELETE", headers: auth })).status).toBe(204);
		expect((await call(`/v1/me/devices/${device.id}`, { method: "DELETE", headers: auth })).status).toBe(404);
	});

	it("moves a token registered by someone else to the new owner", async () => {
		const a = await person();
		const b = await person();
		const token = `fcm-${runId()}-shared-phone-token`;
		await call("/v1/me/devices", { method: "POST", headers: a.auth, json: { platform: "fcm", token } });
		const moved = await call("/v1/me/devices", {
			method: "POST",
			headers: b.auth,
			json: { platform: "fcm", token },
		});
		expect(moved.status).toBe(201);
		expect((await json<DeviceListResponse>(await call("/v1/me/devices", { headers: a.auth }))).data).toEqual(
			[],
		);
	});

	it("validates tokens and Web Push subscriptions", async () => {
		const { auth } = await person();
		const post = (body: unknown, overrides: Partial<Env> = {}) =>
			call("/v1/me/devices", { method: "POST", headers: auth, json: body }, overrides);
		expect((await post({ platform: "apns", token: "not hex" })).status).toBe(400);
		expect((await post({ platform: "fcm", token: "short" })).status).toBe(400);
		expect((await post({ platform: "sms", token: "x".repeat(30) })).status).toBe(400);
		expect((await post({ platform: "fcm", token: "x".repeat(30), user_id: "someone" })).status).toBe(400);
		const browser = await browserSubscription("https://updates.push.services.mozilla.com/wpush/v2/abc");
		const badKeys = {
			...browser.subscription,
			keys: { p256dh: "AAAA", auth: browser.subscription.keys.auth },
		};
		expect((await post({ platform: "webpush", subscription: badKeys })).status).toBe(400);
		const elsewhere = await browserSubscription("https://push.attacker.example/abc");
		const refused = await post({ platform: "webpush", subscription: elsewhere.subscription });
		expect(refused.status).toBe(422);
		expect((await post({ platform: "webpush", subscription: browser.subscription })).status).toBe(201);
	});
});

describe("notifications consumer", () => {
	it("pushes an event to the devices of everyone following its sector, region or nation, in its category", async () => {
		const tag = runId();
		const credentials = await pushCredentials();
		const energyFan = await person();
		const kenyaFan = await person();
		const muted = await person();
		const alertsOnly = await person();
		const setup = async (
			who: { auth: Record<string, string> },
			settings: Record<string, unknown>,
			token: string,
		) => {
			await call("/v1/me/notification-settings", {
				method: "PUT",
				headers: who.auth,
				json: settingsBody(settings),
			});
			await call(
				"/v1/me/devices",
				{ method: "POST", headers: who.auth, json: { platform: "fcm", token } },
				credentials.env,
			);
		};
		await setup(energyFan, { sectors: ["energy"] }, `fcm-${tag}-energy-fan-token`);
		await setup(kenyaFan, { nations: ["KE"] }, `fcm-${tag}-kenya-fan-token0`);
		await setup(muted, { enabled: false, sectors: ["energy"] }, `fcm-${tag}-muted-user-token0`);
		await setup(alertsOnly, { sectors: ["energy"], categories: ["alerts"] }, `fcm-${tag}-alerts-only-token`);
		const browser = await browserSubscription(`${receiverUrl()}/webpush/${tag}`);
		await call(
			"/v1/me/devices",
			{
				method: "POST",
				headers: energyFan.auth,
				json: { platform: "webpush", subscription: browser.subscription },
			},
			credentials.env,
		);

		// A seeded Kenyan energy project: its sector, nation and name are read from Postgres.
		const [project] = await query<{ id: string; name: string }>(
			sql`select id::text, name from projects where sector = 'energy' and nation_iso2 = 'KE' limit 1`,
		);
		if (!project) throw new Error("the seeds have no Kenyan energy project");
		const created = makeEvent({ type: "covenant.projects.created", data: { project_id: project.id } });
		const result = await runBatch("notifications", [{ body: created }], undefined, credentials.env);
		expect(result.explicitAcks).toHaveLength(1);

		const deliveries = await query<{
			user_id: string;
			platform: string;
			status: string;
			title: string;
			body: string;
		}>(
			// Only this test's people: others' tests may follow the same sector or nation.
			sql`select user_id, platform, status, title, body from notification_deliveries
				where event_id = ${created.id} and user_id = any(${sql.param([energyFan.sub, kenyaFan.sub, muted.sub, alertsOnly.sub])}::text[])
				order by user_id, platform`,
		);
		expect(deliveries.map((d) => `${d.user_id}:${d.platform}:${d.status}`).sort()).toEqual(
			[`${energyFan.sub}:fcm:sent`, `${energyFan.sub}:webpush:sent`, `${kenyaFan.sub}:fcm:sent`].sort(),
		);
		expect(deliveries[0]).toMatchObject({ title: "New Energy project", body: `${project.name} in Kenya` });
		expect(await receivedRequests(`/webpush/${tag}`)).toHaveLength(1);

		const history = await json<DeliveryPageResponse>(
			await call("/v1/me/notifications", { headers: energyFan.auth }),
		);
		expect(history.data.map((d) => `${d.event_id}:${d.platform}:${d.status}`).sort()).toEqual([
			`${created.id}:fcm:sent`,
			`${created.id}:webpush:sent`,
		]);
		expect(
			(await json<DeliveryPageResponse>(await call("/v1/me/notifications", { headers: muted.auth }))).data,
		).toEqual([]);
	});

	it("disables a device the push service calls gone, and re-sends transient failures from the sweep", async () => {
		const tag = runId();
		const credentials = await pushCredentials();
		const fan = await person();
		await call("/v1/me/notification-settings", {
			method: "PUT",
			headers: fan.auth,
			json: settingsBody({ regions: ["syd"] }),
		});
		for (const token of [`gone-${tag}-token-0123456789`, `flaky-${tag}-token-012345678`]) {
			await call(
				"/v1/me/devices",
				{ method: "POST", headers: fan.auth, json: { platform: "fcm", token } },
				credentials.env,
			);
		}
		const announcement = makeEvent({
			type: "notifications.push.queued",
			data: {
				title: "Maintenance",
				body: "The ledger is read-only tonight",
				audience: { user_ids: [fan.sub] },
			},
		});
		await runBatch("notifications", [{ body: announcement }], undefined, credentials.env);

		const devices = await json<DeviceListResponse>(await call("/v1/me/devices", { headers: fan.auth }));
		const gone = devices.data.find((d) => d.token_hint.endsWith("23456789"));
		expect(gone?.disabled_at).not.toBeNull();
		expect(gone?.disabled_reason).toMatch(/404/);
		const state = async () =>
			query<{ status: string; attempts: number; error: string | null }>(
				sql`select status, attempts, error from notification_deliveries where event_id = ${announcement.id} and user_id = ${fan.sub} order by status`,
			);
		expect((await state()).map((d) => [d.status, d.attempts])).toEqual([
			["invalid_token", 1],
			["pending", 1],
		]);

		// The sweep picks the pending delivery once its backoff has passed.
		await query(
			sql`update notification_deliveries set updated_at = now() - interval '10 minutes' where event_id = ${announcement.id} and status = 'pending'`,
		);
		const report = await withDb(env, (db) =>
			sendDeliveries({ ...env, ...credentials.env } as never, db, { eventIds: [announcement.id] }),
		);
		expect(report).toMatchObject({ claimed: 1, retry: 1 });
		expect((await state()).find((d) => d.status === "pending")?.attempts).toBe(2);
	});

	it("sends an announcement to the users it names, unless they muted notifications", async () => {
		const tag = runId();
		const credentials = await pushCredentials();
		const named = await person();
		const mutedNamed = await person();
		await call(
			"/v1/me/devices",
			{
				method: "POST",
				headers: named.auth,
				json: { platform: "fcm", token: `fcm-${tag}-named-user-token` },
			},
			credentials.env,
		);
		await call(
			"/v1/me/devices",
			{
				method: "POST",
				headers: mutedNamed.auth,
				json: { platform: "fcm", token: `fcm-${tag}-muted-named-toke` },
			},
			credentials.env,
		);
		await call("/v1/me/notification-settings", {
			method: "PUT",
			headers: mutedNamed.auth,
			json: settingsBody({ enabled: false }),
		});
		const announcement = makeEvent({
			type: "notifications.push.queued",
			data: { title: "Hello", body: "Welcome", audience: { user_ids: [named.sub, mutedNamed.sub] } },
		});
		await runBatch("notifications", [{ body: announcement }], undefined, credentials.env);
		const rows = await query<{ user_id: string }>(
			sql`select user_id from notification_deliveries where event_id = ${announcement.id}`,
		);
		expect(rows.map((r) => r.user_id)).toEqual([named.sub]);
	});
});
