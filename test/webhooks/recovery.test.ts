import { env } from "cloudflare:test";
import { and, eq, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { webhookMessages } from "../../workers/db/schema/webhooks.ts";
import type { Problem } from "../../workers/lib/problem.ts";
import type { RecoverResponse } from "../../workers/routes/webhooks/recover-endpoint.ts";
import type { RetryMessageResponse } from "../../workers/routes/webhooks/retry-message.ts";
import type { TestSendResponse } from "../../workers/routes/webhooks/send-test.ts";
import type { DeliveryJob } from "../../workers/webhooks/delivery-job.ts";
import { redispatchOverdue } from "../../workers/webhooks/dispatch.ts";
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
	runQueue,
	webhookHeaders,
} from "./support.ts";

afterAll(deleteTestEndpoints);

const projectEvent = () =>
	event({
		type: "covenant.projects.created",
		data: { project_id: crypto.randomUUID(), nation: "GH", sector: "health", serving_region: "jnb" },
	});

async function messagesOf(endpointId: string) {
	return db((d) => d.select().from(webhookMessages).where(eq(webhookMessages.endpointId, endpointId)));
}

/** An endpoint whose receiver rejected `count` events (400: failed at once, no retry). */
async function failedMessages(count: number) {
	const box = await mailbox({ status: 400 });
	const p = await partner();
	const endpoint = await createEndpoint(p, { url: box.url, event_types: ["covenant.projects.created"] });
	const events = Array.from({ length: count }, projectEvent);
	const recorder = jobRecorder();
	await fanOutEvents(events, recorder);
	const mine = new Set((await messagesOf(endpoint.id)).map((m) => m.id));
	await deliver(recorder.jobs.map((j) => j.job).filter((job) => mine.has(job.message_id)));
	const messages = await messagesOf(endpoint.id);
	expect(messages.map((m) => m.status)).toEqual(Array(count).fill("failed"));
	return { box, p, endpoint, events, messages };
}

const receivedIds = async (box: Awaited<ReturnType<typeof mailbox>>, status: number) =>
	(await box.requests()).filter((r) => r.status === status).map((r) => r.headers["webhook-id"]);

describe("recover: re-send every failed message since a time", () => {
	it("re-sends each failed message once, with its original webhook-id, and nothing on a second call", async () => {
		const { box, p, endpoint, events, messages } = await failedMessages(3);
		// One of them is older than the window.
		const old = messages[0];
		if (!old) throw new Error("no message");
		await db((d) =>
			d
				.update(webhookMessages)
				.set({ createdAt: new Date(Date.now() - 2 * 86_400_000) })
				.where(eq(webhookMessages.id, old.id)),
		);
		await box.configure({ status: 200 });

		const recorder = jobRecorder();
		const since = new Date(Date.now() - 86_400_000).toISOString();
		const response = await call(
			`/v1/webhooks/endpoints/${endpoint.id}/recover`,
			{ method: "POST", headers: p.headers, json: { since } },
			recorder.overrides,
		);
		expect(response.status).toBe(202);
		expect(await json<RecoverResponse>(response)).toEqual({ recovered: 2, has_more: false });
		expect(recorder.jobs).toHaveLength(2);
		await deliver(recorder.jobs.map((j) => j.job));

		const expected = events.filter((e) => e.id !== old.eventId).map((e) => e.id);
		expect((await receivedIds(box, 200)).sort()).toEqual([...expected].sort());
		const verifier = new Webhook(endpoint.secret);
		for (const request of (await box.requests()).filter((r) => r.status === 200)) {
			expect(verifier.verify(request.body, webhookHeaders(request))).toBeTruthy();
		}

		const again = await call(
			`/v1/webhooks/endpoints/${endpoint.id}/recover`,
			{ method: "POST", headers: p.headers, json: { since } },
			recorder.overrides,
		);
		expect(await json<RecoverResponse>(again)).toEqual({ recovered: 0, has_more: false });
		expect(recorder.jobs).toHaveLength(2);
		const statuses = (await messagesOf(endpoint.id)).map((m) => [m.eventId === old.eventId, m.status]);
		expect(statuses).toContainEqual([true, "failed"]);
		expect(statuses.filter(([isOld]) => !isOld).every(([, status]) => status === "succeeded")).toBe(true);
	});
});

describe("retry one message", () => {
	it("re-sends a failed message now; a pending one answers 409; a repeated Idempotency-Key sends once", async () => {
		const { box, p, messages } = await failedMessages(1);
		const message = messages[0];
		if (!message) throw new Error("no message");
		await box.configure({ status: 200 });
		const recorder = jobRecorder();
		const key = crypto.randomUUID();
		const retry = (headers: Record<string, string> = {}) =>
			call(
				`/v1/webhooks/messages/${message.id}/retry`,
				{ method: "POST", headers: { ...p.headers, ...headers } },
				recorder.overrides,
			);
		const response = await retry({ "idempotency-key": key });
		expect(response.status).toBe(202);
		expect(await json<RetryMessageResponse>(response)).toMatchObject({
			id: message.id,
			status: "pending",
			attempts: 1,
		});
		const replay = await retry({ "idempotency-key": key });
		expect(replay.status).toBe(202);
		expect(recorder.jobs).toHaveLength(1);
		const pending = await retry();
		expect(pending.status).toBe(409);
		expect((await json<Problem>(pending)).detail).toMatch(/already has an attempt scheduled/);

		await deliver(recorder.jobs.map((j) => j.job));
		expect(await receivedIds(box, 200)).toEqual([message.eventId]);
		const [after] = await db((d) =>
			d.select().from(webhookMessages).where(eq(webhookMessages.id, message.id)),
		);
		expect(after).toMatchObject({ status: "succeeded", attempts: 2, cycleTrigger: "retry" });

		// A delivered message can be re-sent too (the partner lost it on its side).
		const resend = await retry();
		expect(resend.status).toBe(202);
		await deliver(recorder.jobs.slice(1).map((j) => j.job));
		expect(await receivedIds(box, 200)).toEqual([message.eventId, message.eventId]);
	});

	it("drops the job of an earlier dispatch after a retry re-dispatched the message", async () => {
		const { box, p, messages } = await failedMessages(1);
		const message = messages[0];
		if (!message) throw new Error("no message");
		const stale: DeliveryJob = { message_id: message.id, dispatch_id: message.dispatchId };
		await box.configure({ status: 200 });
		await call(
			`/v1/webhooks/messages/${message.id}/retry`,
			{ method: "POST", headers: p.headers },
			jobRecorder().overrides,
		);
		const result = await deliver([stale]);
		expect(result.explicitAcks).toHaveLength(1);
		expect(await receivedIds(box, 200)).toEqual([]);
	});
});

describe("test sends", () => {
	it("sends a signed webhooks.test message and reports the first attempt", async () => {
		const box = await mailbox();
		const p = await partner();
		const endpoint = await createEndpoint(p, { url: box.url, enabled: false });
		const key = crypto.randomUUID();
		const send = () =>
			call(`/v1/webhooks/endpoints/${endpoint.id}/test`, {
				method: "POST",
				headers: { ...p.headers, "idempotency-key": key },
			});
		const response = await send();
		expect(response.status).toBe(200);
		const body = await json<TestSendResponse>(response);
		expect(body.message).toMatchObject({ event_type: "webhooks.test", status: "succeeded", attempts: 1 });
		expect(body.delivery).toMatchObject({
			attempt: 1,
			status: "succeeded",
			response_status: 200,
			trigger: "test",
		});
		const [request] = await box.requests();
		if (!request) throw new Error("not received");
		const payload = new Webhook(endpoint.secret).verify(request.body, webhookHeaders(request)) as Record<
			string,
			unknown
		>;
		expect(payload).toMatchObject({ type: "webhooks.test", data: { endpoint_id: endpoint.id } });
		expect(request.headers["webhook-id"]).toBe(body.message.event_id);

		const replay = await json<TestSendResponse>(await send());
		expect(replay.message.id).toBe(body.message.id);
		expect(await box.requests()).toHaveLength(1);
	});

	it("reports a failing receiver and schedules the retry", async () => {
		const box = await mailbox({ failures: 5, fail_status: 503 });
		const p = await partner();
		const endpoint = await createEndpoint(p, { url: box.url });
		const recorder = jobRecorder();
		const response = await call(
			`/v1/webhooks/endpoints/${endpoint.id}/test`,
			{ method: "POST", headers: p.headers },
			recorder.overrides,
		);
		const body = await json<TestSendResponse>(response);
		expect(body.delivery).toMatchObject({ status: "retrying", response_status: 503 });
		expect(body.delivery?.response_excerpt).toMatch(/failing on purpose/);
		expect(recorder.jobs).toHaveLength(1);
		expect(recorder.jobs[0]?.delaySeconds).toBeGreaterThanOrEqual(9);
	});
});

describe("lost and dead-lettered jobs", () => {
	it("the sweep re-dispatches a long-overdue message under a new dispatch; the old job is dropped", async () => {
		const box = await mailbox();
		const p = await partner();
		const endpoint = await createEndpoint(p, { url: box.url, event_types: ["covenant.projects.created"] });
		const e = projectEvent();
		const recorder = jobRecorder();
		await fanOutEvents([e], recorder);
		const [message] = await db((d) =>
			d
				.update(webhookMessages)
				.set({ nextAttemptAt: sql`now() - interval '20 minutes'` })
				.where(and(eq(webhookMessages.endpointId, endpoint.id), eq(webhookMessages.eventId, e.id)))
				.returning(),
		);
		if (!message) throw new Error("no message");
		const swept = jobRecorder();
		const count = await db((d) => redispatchOverdue({ ...env, ...swept.overrides } as Env, d));
		expect(count).toBeGreaterThanOrEqual(1);
		const fresh = swept.jobs.map((j) => j.job).find((job) => job.message_id === message.id);
		expect(fresh).toBeDefined();
		expect(fresh?.dispatch_id).not.toBe(message.dispatchId);

		await deliver([{ message_id: message.id, dispatch_id: message.dispatchId }]);
		expect(await box.requests()).toEqual([]);
		await deliver([fresh as DeliveryJob]);
		expect((await box.requests()).map((r) => r.headers["webhook-id"])).toEqual([e.id]);
	});

	it("a job that exhausted the queue's retries marks its message failed, recoverable later", async () => {
		const box = await mailbox();
		const p = await partner();
		const endpoint = await createEndpoint(p, { url: box.url, event_types: ["covenant.projects.created"] });
		const e = projectEvent();
		await fanOutEvents([e], jobRecorder());
		const [message] = await messagesOf(endpoint.id);
		if (!message) throw new Error("no message");
		const result = await runQueue("covenant-webhook-deliveries-dlq", [
			{ message_id: message.id, dispatch_id: message.dispatchId },
		]);
		expect(result.ackAll).toBe(true);
		const [after] = await messagesOf(endpoint.id);
		expect(after).toMatchObject({ status: "failed" });
		expect(after?.lastError).toMatch(/retries were exhausted/);
	});

	it("drops the jobs of a deleted endpoint without sending", async () => {
		const box = await mailbox();
		const p = await partner();
		const endpoint = await createEndpoint(p, { url: box.url, event_types: ["covenant.projects.created"] });
		const recorder = jobRecorder();
		await fanOutEvents([projectEvent()], recorder);
		const [message] = await messagesOf(endpoint.id);
		if (!message) throw new Error("no message");
		expect(
			(await call(`/v1/webhooks/endpoints/${endpoint.id}`, { method: "DELETE", headers: p.headers })).status,
		).toBe(204);
		const result = await deliver([{ message_id: message.id, dispatch_id: message.dispatchId }]);
		expect(result.explicitAcks).toHaveLength(1);
		expect(await box.requests()).toEqual([]);
	});
});
