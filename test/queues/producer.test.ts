import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { CloudEvent } from "../../queues/envelope.ts";
import { MAX_EVENT_BYTES } from "../../queues/envelope.ts";
import { drainOutbox } from "../../queues/outbox.ts";
import { createEventPublisher, EventDeliveryError } from "../../queues/producer.ts";
import { type QueueBinding, ROUTES, routesFor } from "../../queues/routing.ts";
import { withDb } from "../../workers/db/client.ts";
import { STOPPED_DATABASE } from "../support/http.ts";
import { query, runId } from "./support.ts";

/** A stand-in queue binding that records what it accepted and fails the first `failures` sends. */
function recordingQueue(failures = 0) {
	const sent: CloudEvent[] = [];
	let calls = 0;
	const queue = {
		async send(body: CloudEvent) {
			await queue.sendBatch([{ body }]);
		},
		async sendBatch(messages: Iterable<{ body: CloudEvent }>) {
			calls++;
			if (calls <= failures) throw new Error(`queue unavailable (call ${calls})`);
			for (const m of messages) sent.push(m.body);
		},
	};
	return { queue: queue as unknown as Queue, sent, calls: () => calls };
}

function envWithQueues(failures: Partial<Record<QueueBinding, number>> = {}, overrides: Partial<Env> = {}) {
	const queues = Object.fromEntries(ROUTES.map((r) => [r.binding, recordingQueue(failures[r.binding] ?? 0)]));
	const testEnv = { ...env, ...overrides } as Env & Record<string, unknown>;
	for (const [binding, q] of Object.entries(queues)) testEnv[binding] = q.queue;
	return { testEnv: testEnv as Env, queues };
}

describe("routing", () => {
	it("sends every event to audit, and each type only to the consumers that use it", () => {
		const consumersOf = (type: Parameters<typeof routesFor>[0]) => routesFor(type).map((r) => r.consumer);
		expect(consumersOf("users.authenticated")).toContain("audit");
		expect(consumersOf("users.authenticated")).not.toContain("analytics");
		expect(consumersOf("covenant.projects.created")).toEqual(
			expect.arrayContaining(["audit", "analytics", "notifications", "cache"]),
		);
		expect(consumersOf("covenant.payments.recorded")).toEqual(expect.arrayContaining(["audit", "analytics"]));
		expect(consumersOf("covenant.payments.recorded")).not.toContain("notifications");
		expect(consumersOf("covenant.sectors.energy.updated")).toEqual(
			expect.arrayContaining(["audit", "cache"]),
		);
	});
});

describe("publish", () => {
	it("validates, then delivers each event once to each queue its type is routed to", async () => {
		const { testEnv, queues } = envWithQueues();
		const publisher = createEventPublisher(testEnv, { source: "covenant-edge/test", requestId: "req-1" });
		const [event] = await publisher.publish({
			type: "covenant.projects.created",
			subject: "projects/p1",
			data: { project_id: "p1", sector: "energy" },
		});
		expect(event).toMatchObject({ specversion: "1.0", source: "covenant-edge/test", requestid: "req-1" });
		for (const route of ROUTES) {
			const expected = routesFor("covenant.projects.created").includes(route) ? [event] : [];
			expect(queues[route.binding]?.sent, route.consumer).toEqual(expected);
		}
	});

	it("refuses an event whose data does not match its type, and sends nothing", async () => {
		const { testEnv, queues } = envWithQueues();
		const publisher = createEventPublisher(testEnv, { source: "covenant-edge/test" });
		await expect(
			publisher.publish({
				type: "covenant.payments.recorded",
				data: { nation: "KE", kind: "contribution", amount_cents: 1.5 },
			}),
		).rejects.toThrow(/amount_cents/);
		await expect(
			publisher.publish({ type: "covenant.projects.created", data: { project_id: "p", sector: "fishing" } }),
		).rejects.toThrow(/sector/);
		expect(Object.values(queues).every((q) => q.sent.length === 0)).toBe(true);
	});

	it("refuses an event too large for a queue message", async () => {
		const { testEnv } = envWithQueues();
		const publisher = createEventPublisher(testEnv, { source: "covenant-edge/test" });
		await expect(
			publisher.publish({ type: "users.authenticated", data: { blob: "x".repeat(MAX_EVENT_BYTES) } }),
		).rejects.toThrow(/limited to/);
	});

	it("retries a failed send before giving up on it", async () => {
		const { testEnv, queues } = envWithQueues({ AUDIT_QUEUE: 2 });
		const publisher = createEventPublisher(testEnv, { source: "covenant-edge/test" });
		const [event] = await publisher.publish({ type: "users.authenticated", data: {} });
		expect(queues.AUDIT_QUEUE?.calls()).toBe(3);
		expect(queues.AUDIT_QUEUE?.sent).toEqual([event]);
		expect(await query(sql`select 1 from event_outbox where event_id = ${event?.id ?? ""}`)).toEqual([]);
	});

	it("parks what a queue never accepts in the outbox, for that consumer only, and the sweep sends it", async () => {
		const { testEnv, queues } = envWithQueues({ ANALYTICS_QUEUE: 99 });
		const publisher = createEventPublisher(testEnv, { source: "covenant-edge/test" });
		const [event] = await publisher.publish({
			type: "covenant.payments.recorded",
			data: { nation: "KE", kind: "contribution", amount_cents: 100 },
		});
		const id = event?.id ?? "";
		expect(queues.AUDIT_QUEUE?.sent).toEqual([event]);
		const parked = await query<{ consumer: string; last_error: string }>(
			sql`select consumer, last_error from event_outbox where event_id = ${id}`,
		);
		expect(parked.map((p) => p.consumer)).toEqual(["analytics"]);
		expect(parked[0]?.last_error).toMatch(/queue unavailable/);

		// The sweep, with the queue healthy again: sent once, row gone.
		const healthy = envWithQueues();
		const result = await withDb(env, (db) => drainOutbox(healthy.testEnv, db, { eventIds: [id] }));
		expect(result).toEqual({ sent: 1, failed: 0 });
		expect(healthy.queues.ANALYTICS_QUEUE?.sent.map((e) => e.id)).toEqual([id]);
		expect(await query(sql`select 1 from event_outbox where event_id = ${id}`)).toEqual([]);
	});

	it("pushes a parked event back with backoff when the queue still refuses it", async () => {
		const { testEnv } = envWithQueues({ CACHE_QUEUE: 99 });
		const publisher = createEventPublisher(testEnv, { source: "covenant-edge/test" });
		const [event] = await publisher.publish({ type: "covenant.countries.updated", data: { nation: "KE" } });
		const id = event?.id ?? "";
		const result = await withDb(env, (db) => drainOutbox(testEnv, db, { eventIds: [id] }));
		expect(result).toEqual({ sent: 0, failed: 1 });
		const [row] = await query<{ attempts: number; due_in: number }>(
			sql`select attempts, extract(epoch from next_attempt_at - now())::int as due_in from event_outbox where event_id = ${id}`,
		);
		expect(row?.attempts).toBe(1);
		expect(row?.due_in).toBeGreaterThanOrEqual(55);
		await query(sql`delete from event_outbox where event_id = ${id}`);
	});

	it("throws, never swallows, when neither the queue nor the outbox takes the event", async () => {
		const { testEnv } = envWithQueues({ AUDIT_QUEUE: 99 }, STOPPED_DATABASE);
		const publisher = createEventPublisher(testEnv, { source: "covenant-edge/test" });
		const error = await publisher
			.publish({ type: "users.authenticated", id: `lost-${runId()}`, data: {} })
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(EventDeliveryError);
		expect((error as EventDeliveryError).eventIds).toHaveLength(1);
	});
});
