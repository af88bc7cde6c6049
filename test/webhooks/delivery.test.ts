import { env } from "cloudflare:test";
import { and, eq, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it, vi } from "vitest";
import { createEventPublisher } from "../../queues/producer.ts";
import { webhookAttempts, webhookEndpoints, webhookMessages } from "../../workers/db/schema/webhooks.ts";
import type { DeliveryPageResponse } from "../../workers/routes/webhooks/list-deliveries.ts";
import type { RotatedSecretResponse } from "../../workers/routes/webhooks/rotate-secret.ts";
import type { EndpointResponse } from "../../workers/routes/webhooks/schema.ts";
import type { DeliveryJob } from "../../workers/webhooks/delivery-job.ts";
import { RETRY_DELAYS_SECONDS } from "../../workers/webhooks/schedule.ts";
import { eventRecorder } from "../identity/helpers.ts";
import { call, json } from "../support/http.ts";
import {
	createEndpoint,
	db,
	deleteTestEndpoints,
	deliver,
	event,
	fanOutEvents,
	jobRecorder,
	mailbox,
	partner,
	webhookHeaders,
} from "./support.ts";

afterAll(deleteTestEndpoints);

/** A project event about Kenya's energy sector (served from jnb), with a fresh id. */
const projectEvent = (nation = "KE") =>
	event({
		type: "covenant.projects.updated",
		subject: "projects/test",
		data: {
			project_id: crypto.randomUUID(),
			nation,
			sector: "energy",
			serving_region: "jnb",
			status: "active",
		},
	});

async function messageOf(endpointId: string, eventId: string) {
	const [row] = await db((d) =>
		d
			.select()
			.from(webhookMessages)
			.where(and(eq(webhookMessages.endpointId, endpointId), eq(webhookMessages.eventId, eventId))),
	);
	return row;
}

/** Makes a message's next attempt due now: what the queue's delay would do after the wait. */
async function makeDue(messageId: string) {
	await db((d) =>
		d.update(webhookMessages).set({ nextAttemptAt: sql`now()` }).where(eq(webhookMessages.id, messageId)),
	);
}

const jobOf = (row: { id: string; dispatchId: string }): DeliveryJob => ({
	message_id: row.id,
	dispatch_id: row.dispatchId,
});

/** Fans one event out to one fresh endpoint; returns the endpoint, its message and the job for it. */
async function oneMessage(behaviour: Record<string, unknown>, endpointBody: Record<string, unknown> = {}) {
	const box = await mailbox(behaviour);
	const p = await partner();
	const endpoint = await createEndpoint(p, {
		url: box.url,
		event_types: ["covenant.projects.*"],
		...endpointBody,
	});
	const recorder = jobRecorder();
	const e = projectEvent();
	await fanOutEvents([e], recorder);
	const message = await messageOf(endpoint.id, e.id);
	if (!message) throw new Error("no message was fanned out");
	expect(recorder.jobs.map((j) => j.job)).toContainEqual(jobOf(message));
	return { box, p, endpoint, event: e, message, job: jobOf(message) };
}

describe("webhook delivery through the real queues", () => {
	it("delivers a published event to the partner's endpoint, signed so the standardwebhooks verifier accepts it", async () => {
		const box = await mailbox();
		const p = await partner();
		const endpoint = await createEndpoint(p, {
			url: box.url,
			event_types: ["covenant.projects.updated"],
			scope: { nations: ["KE"] },
		});
		const [published] = await createEventPublisher(env, { source: "test/webhooks" }).publish({
			type: "covenant.projects.updated",
			subject: "projects/e2e",
			data: { project_id: crypto.randomUUID(), nation: "KE", sector: "energy", serving_region: "jnb" },
		});
		if (!published) throw new Error("nothing published");
		await vi.waitFor(
			async () =>
				expect((await box.requests()).filter((r) => r.headers["webhook-id"] === published.id)).toHaveLength(
					1,
				),
			{ timeout: 20_000, interval: 200 },
		);
		const [request] = (await box.requests()).filter((r) => r.headers["webhook-id"] === published.id);
		if (!request) throw new Error("unreachable");
		const payload = new Webhook(endpoint.secret).verify(request.body, webhookHeaders(request));
		expect(payload).toEqual({
			id: published.id,
			type: "covenant.projects.updated",
			timestamp: published.time,
			subject: "projects/e2e",
			data: published.data,
		});
		expect(request.headers["content-type"]).toBe("application/json");

		// The attempt is on record.
		await vi.waitFor(async () => {
			const page = await json<DeliveryPageResponse>(
				await call(`/v1/webhooks/endpoints/${endpoint.id}/deliveries`, { headers: p.headers }),
			);
			expect(page.data[0]).toMatchObject({
				event_id: published.id,
				event_type: "covenant.projects.updated",
				attempt: 1,
				trigger: "event",
				status: "succeeded",
				response_status: 200,
				next_attempt_at: null,
			});
		});
	}, 30_000);
});

describe("fan-out", () => {
	it("gives each matching endpoint its own message, and nothing to endpoints whose filters do not match", async () => {
		const p = await partner();
		const box = await mailbox();
		const make = (body: Record<string, unknown>) => createEndpoint(p, { url: box.url, ...body });
		const exact = await make({ event_types: ["covenant.projects.updated"] });
		const prefix = await make({
			event_types: ["covenant.*"],
			scope: { sectors: ["energy"], regions: ["jnb"] },
		});
		const otherType = await make({ event_types: ["covenant.payments.*"] });
		const otherNation = await make({ event_types: ["covenant.projects.*"], scope: { nations: ["UG"] } });
		const disabled = await make({ event_types: ["covenant.*"], enabled: false });
		const kenyaPartner = await partner("partner nation:KE");
		const scoped = await createEndpoint(kenyaPartner, { url: box.url, event_types: ["*"] });
		const ugandaPartner = await partner("partner nation:UG");
		const notVisible = await createEndpoint(ugandaPartner, { url: box.url, event_types: ["*"] });

		const recorder = jobRecorder();
		const e = projectEvent("KE");
		await fanOutEvents([e, e], recorder); // a duplicate in the batch fans out once
		for (const endpoint of [exact, prefix, scoped]) expect(await messageOf(endpoint.id, e.id)).toBeDefined();
		for (const endpoint of [otherType, otherNation, disabled, notVisible]) {
			expect(await messageOf(endpoint.id, e.id)).toBeUndefined();
		}
		// Redelivered later: nothing new.
		const again = jobRecorder();
		await fanOutEvents([e], again);
		expect(again.jobs).toEqual([]);
	});

	it("looks a project event's nation, sector and region up when the event leaves them out", async () => {
		const [project] = await db((d) =>
			d.execute<{ id: string; nation: string }>(
				sql`select id::text as id, nation_iso2 as nation from projects limit 1`,
			),
		).then((r) => r.rows);
		if (!project) throw new Error("no seeded project");
		const p = await partner(`partner nation:${project.nation}`);
		const box = await mailbox();
		const endpoint = await createEndpoint(p, { url: box.url, event_types: ["covenant.projects.*"] });
		const e = event({ type: "covenant.projects.created", data: { project_id: project.id } });
		await fanOutEvents([e], jobRecorder());
		const message = await messageOf(endpoint.id, e.id);
		expect(message?.targetNation).toBe(project.nation);
		expect(message?.targetSector).toBeTruthy();
		expect(message?.targetRegion).toBeTruthy();
	});
});

describe("retries", () => {
	it("a receiver failing 3 times then succeeding gets the event exactly once more, same webhook-id, every attempt verifying", async () => {
		const { box, endpoint, event: e, message, job, p } = await oneMessage({ failures: 3, fail_status: 503 });
		const delays: number[] = [];
		for (let attempt = 1; attempt <= 3; attempt++) {
			const result = await deliver([job]);
			expect(result.retryMessages, `attempt ${attempt}`).toHaveLength(1);
			const delay = result.retryMessages[0]?.delaySeconds ?? 0;
			delays.push(delay);
			const nominal = RETRY_DELAYS_SECONDS[attempt - 1] ?? 0;
			expect(delay).toBeGreaterThanOrEqual(Math.floor(nominal * 0.9));
			expect(delay).toBeLessThanOrEqual(nominal);
			// Early copies of the job do not send: the message is not due yet.
			const early = await deliver([job]);
			expect(early.retryMessages[0]?.delaySeconds).toBeGreaterThan(0);
			await makeDue(message.id);
		}
		const final = await deliver([job]);
		expect(final.retryMessages).toEqual([]);
		expect(final.explicitAcks).toHaveLength(1);
		// The queue redelivering the job once more changes nothing.
		await deliver([job]);

		const received = (await box.requests()).filter((r) => r.headers["webhook-id"] === e.id);
		expect(received.map((r) => r.status)).toEqual([503, 503, 503, 200]);
		expect(new Set(received.map((r) => r.body)).size).toBe(1);
		const verifier = new Webhook(endpoint.secret);
		for (const request of received)
			expect(verifier.verify(request.body, webhookHeaders(request))).toBeTruthy();

		const page = await json<DeliveryPageResponse>(
			await call(`/v1/webhooks/endpoints/${endpoint.id}/deliveries?message_id=${message.id}`, {
				headers: p.headers,
			}),
		);
		expect(page.data.map((d) => [d.attempt, d.status, d.response_status])).toEqual([
			[4, "succeeded", 200],
			[3, "retrying", 503],
			[2, "retrying", 503],
			[1, "retrying", 503],
		]);
		expect(page.data[3]?.next_attempt_at).toBeTruthy();
		expect(page.data.every((d) => d.duration_ms >= 0 && d.event_id === e.id)).toBe(true);
		const failures = await json<DeliveryPageResponse>(
			await call(`/v1/webhooks/endpoints/${endpoint.id}/deliveries?status=retrying&limit=2`, {
				headers: p.headers,
			}),
		);
		expect(failures.data).toHaveLength(2);
		const rest = await json<DeliveryPageResponse>(
			await call(
				`/v1/webhooks/endpoints/${endpoint.id}/deliveries?status=retrying&limit=2&cursor=${failures.next_cursor}`,
				{
					headers: p.headers,
				},
			),
		);
		expect(rest.data.map((d) => d.attempt)).toEqual([1]);
		expect(rest.next_cursor).toBeNull();

		const [health] = await db((d) =>
			d.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpoint.id)),
		);
		expect(health?.failingSince).toBeNull();
	});

	it("honours Retry-After when it asks for longer than the schedule", async () => {
		const { job } = await oneMessage({
			failures: 1,
			fail_status: 429,
			fail_headers: { "retry-after": "3600" },
		});
		const result = await deliver([job]);
		expect(result.retryMessages[0]?.delaySeconds).toBe(3600);
	});

	it("waits out a Retry-After beyond the queue's 12 h limit in several delays", async () => {
		const { job, message } = await oneMessage({
			failures: 1,
			fail_status: 503,
			fail_headers: { "retry-after": "86400" },
		});
		const first = await deliver([job]);
		expect(first.retryMessages[0]?.delaySeconds).toBe(43_200);
		const row = await messageOf(message.endpointId, message.eventId);
		expect((row?.nextAttemptAt?.getTime() ?? 0) - Date.now()).toBeGreaterThan(86_000_000);
		const early = await deliver([job]);
		expect(early.retryMessages[0]?.delaySeconds).toBe(43_200);
	});

	it("retries a timeout, and records it", async () => {
		const { handleDeliveryBatch } = await import("../../queues/consumers/webhook-deliveries.ts");
		const { createMessageBatch } = await import("cloudflare:test");
		const { job, message } = await oneMessage({ delay_ms: 1_500 });
		const batch = createMessageBatch("covenant-webhook-deliveries", [
			{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: job },
		]);
		const outcome = await handleDeliveryBatch(batch, env, { timeoutMs: 300 });
		expect(outcome.retried).toBe(1);
		const [attempt] = await db((d) =>
			d.select().from(webhookAttempts).where(eq(webhookAttempts.messageId, message.id)),
		);
		expect(attempt).toMatchObject({ outcome: "retrying", statusCode: null, error: "timed out after 0.3 s" });
	});

	it("does not retry other 4xx answers or redirects (never followed), and counts them as failures", async () => {
		const target = await mailbox();
		for (const behaviour of [{ status: 400 }, { status: 302, headers: { location: target.url } }]) {
			const { job, message, endpoint } = await oneMessage(behaviour);
			const result = await deliver([job]);
			expect(result.retryMessages).toEqual([]);
			const row = await messageOf(endpoint.id, message.eventId);
			expect(row).toMatchObject({ status: "failed", lastStatusCode: behaviour.status });
			const [health] = await db((d) =>
				d.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpoint.id)),
			);
			expect(health?.failingSince).not.toBeNull();
		}
		expect(await target.requests()).toEqual([]);
	});

	it("marks a message failed once the schedule (13 attempts, about 3 days) is exhausted", async () => {
		const { job, message } = await oneMessage({ failures: 100, fail_status: 500 });
		await db((d) =>
			d
				.update(webhookMessages)
				.set({ cycleAttempts: RETRY_DELAYS_SECONDS.length })
				.where(eq(webhookMessages.id, message.id)),
		);
		const result = await deliver([job]);
		expect(result.retryMessages).toEqual([]);
		const row = await messageOf(message.endpointId, message.eventId);
		expect(row?.status).toBe("failed");
		expect(row?.lastError).toMatch(/gave up after 13 attempts/);
	});

	it("never sends twice when two copies of a job arrive together", async () => {
		const { job, box, event: e } = await oneMessage({ delay_ms: 300 });
		await Promise.all([deliver([job]), deliver([job]), deliver([job])]);
		expect((await box.requests()).filter((r) => r.headers["webhook-id"] === e.id)).toHaveLength(1);
	});
});

describe("endpoint health", () => {
	it("disables an endpoint answering 410 Gone and emits webhooks.endpoint.disabled for its owner", async () => {
		const { job, endpoint, p } = await oneMessage({ status: 410 });
		const events = eventRecorder();
		await deliver([job], events.overrides);
		const read = await json<EndpointResponse>(
			await call(`/v1/webhooks/endpoints/${endpoint.id}`, { headers: p.headers }),
		);
		expect(read.enabled).toBe(false);
		expect(read.disabled_reason).toMatch(/410 Gone/);
		const [disabled] = events.ofType("webhooks.endpoint.disabled");
		expect(disabled?.data).toMatchObject({ endpoint_id: endpoint.id, owner: p.sub, reason: "gone" });
	});

	it("disables an endpoint failing continuously for 5 days, and delivers the notice to the owner's other endpoints", async () => {
		const { job, endpoint, p } = await oneMessage({ failures: 100, fail_status: 500 });
		const noticeBox = await mailbox();
		const notices = await createEndpoint(p, { url: noticeBox.url, event_types: ["webhooks.*"] });
		const stranger = await partner();
		const strangerBox = await mailbox();
		await createEndpoint(stranger, { url: strangerBox.url, event_types: ["webhooks.*"] });
		await db((d) =>
			d
				.update(webhookEndpoints)
				.set({ failingSince: new Date(Date.now() - 5 * 86_400_000 - 60_000) })
				.where(eq(webhookEndpoints.id, endpoint.id)),
		);
		const events = eventRecorder();
		await deliver([job], events.overrides);
		const [health] = await db((d) =>
			d.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpoint.id)),
		);
		expect(health?.enabled).toBe(false);
		expect(health?.disabledReason).toMatch(/every delivery has failed since/);
		const [disabled] = events.ofType("webhooks.endpoint.disabled");
		expect(disabled?.data).toMatchObject({ endpoint_id: endpoint.id, owner: p.sub, reason: "failing" });
		if (!disabled) throw new Error("no event");

		// The webhooks consumer sends the notice to the owner's endpoint that subscribes to it, and no one else's.
		const recorder = jobRecorder();
		await fanOutEvents([disabled], recorder);
		const notice = await messageOf(notices.id, disabled.id);
		expect(notice).toBeDefined();
		expect(recorder.jobs).toHaveLength(1);
		await deliver(recorder.jobs.map((j) => j.job));
		const [received] = await noticeBox.requests();
		expect(JSON.parse(received?.body ?? "{}")).toMatchObject({ type: "webhooks.endpoint.disabled" });
		expect(await strangerBox.requests()).toEqual([]);
	});

	it("marks a pending message of a disabled endpoint failed without sending it", async () => {
		const { job, box, endpoint, p, event: e } = await oneMessage({});
		await call(`/v1/webhooks/endpoints/${endpoint.id}`, {
			method: "PATCH",
			headers: p.headers,
			json: { enabled: false },
		});
		await deliver([job]);
		expect((await box.requests()).filter((r) => r.headers["webhook-id"] === e.id)).toEqual([]);
		const row = await messageOf(endpoint.id, e.id);
		expect(row?.status).toBe("failed");
		expect(row?.lastError).toMatch(/endpoint is disabled/);
	});
});

describe("visibility at delivery time", () => {
	it("does not send an event the owner can no longer see", async () => {
		const box = await mailbox();
		const p = await partner("partner nation:KE");
		const endpoint = await createEndpoint(p, { url: box.url, event_types: ["covenant.projects.*"] });
		const recorder = jobRecorder();
		const e = projectEvent("KE");
		await fanOutEvents([e], recorder);
		const message = await messageOf(endpoint.id, e.id);
		if (!message) throw new Error("not fanned out");
		// The owner's access changes before the attempt (e.g. its key now covers Uganda only).
		await db((d) =>
			d
				.update(webhookEndpoints)
				.set({ ownerScope: "partner nation:UG" })
				.where(eq(webhookEndpoints.id, endpoint.id)),
		);
		await deliver([jobOf(message)]);
		expect(await box.requests()).toEqual([]);
		const row = await messageOf(endpoint.id, e.id);
		expect(row).toMatchObject({ status: "failed" });
		expect(row?.lastError).toMatch(/outside what the endpoint's owner may see/);
	});
});

describe("secret rotation", () => {
	it("signs with both secrets during the grace period, each signature verifying with its own secret", async () => {
		const { job, box, endpoint, p, event: e } = await oneMessage({});
		const rotated = await json<RotatedSecretResponse>(
			await call(`/v1/webhooks/endpoints/${endpoint.id}/rotate-secret`, {
				method: "POST",
				headers: p.headers,
			}),
		);
		await deliver([job]);
		const [request] = (await box.requests()).filter((r) => r.headers["webhook-id"] === e.id);
		if (!request) throw new Error("not delivered");
		const headers = webhookHeaders(request);
		const [signedWithNew, signedWithOld] = headers["webhook-signature"].split(" ");
		expect(signedWithOld).toBeDefined();
		expect(
			new Webhook(rotated.secret).verify(request.body, {
				...headers,
				"webhook-signature": signedWithNew ?? "",
			}),
		).toBeTruthy();
		expect(
			new Webhook(endpoint.secret).verify(request.body, {
				...headers,
				"webhook-signature": signedWithOld ?? "",
			}),
		).toBeTruthy();
		expect(() =>
			new Webhook(endpoint.secret).verify(request.body, {
				...headers,
				"webhook-signature": signedWithNew ?? "",
			}),
		).toThrow();
	});

	it("signs with the new secret only once the grace period is over", async () => {
		const { job, box, endpoint, p, event: e } = await oneMessage({});
		const rotated = await json<RotatedSecretResponse>(
			await call(`/v1/webhooks/endpoints/${endpoint.id}/rotate-secret`, {
				method: "POST",
				headers: p.headers,
				json: { grace_period_seconds: 0 },
			}),
		);
		await deliver([job]);
		const [request] = (await box.requests()).filter((r) => r.headers["webhook-id"] === e.id);
		if (!request) throw new Error("not delivered");
		expect(request.headers["webhook-signature"]?.split(" ")).toHaveLength(1);
		expect(new Webhook(rotated.secret).verify(request.body, webhookHeaders(request))).toBeTruthy();
		expect(() => new Webhook(endpoint.secret).verify(request.body, webhookHeaders(request))).toThrow();
	});
});
