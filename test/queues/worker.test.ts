import { createScheduledController, env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { parkEvents } from "../../queues/outbox.ts";
import { createEventPublisher } from "../../queues/producer.ts";
import { withDb } from "../../workers/db/client.ts";
import worker from "../../workers/index.ts";
import { eventually, makeEvent, query, runId } from "./support.ts";

/**
 * Through the worker and the real (local) Queues: the producer sends to the queues named in wrangler.toml,
 * the runtime delivers batches to the worker's `queue` handler, which dispatches by queue name.
 */
describe("through the worker's queue handler", () => {
	it("a published event reaches every consumer: audit, analytics and the cache", async () => {
		const tag = runId();
		const publisher = createEventPublisher(env, { source: "covenant-edge/test", requestId: `req-${tag}` });
		const [project] = await query<{ id: string }>(
			sql`select id::text from projects where sector = 'tech' limit 1`,
		);
		await env.CACHE.put(`c1:item:projects:${project?.id}`, "stale");
		const [event] = await publisher.publish({
			type: "covenant.projects.updated",
			actor: `worker-${tag}`,
			subject: `projects/${project?.id}`,
			data: { project_id: project?.id, before: { status: "approved" }, after: { status: "active" } },
		});
		const id = event?.id ?? "";
		const audited = await eventually(
			async () =>
				(
					await query<{ request_id: string }>(sql`select request_id from audit_log where event_id = ${id}`)
				)[0],
			20_000,
			"the audit row",
		);
		expect(audited.request_id).toBe(`req-${tag}`);
		await eventually(
			async () =>
				(
					await query(sql`select 1 from processed_events where consumer = 'analytics' and event_id = ${id}`)
				)[0],
			20_000,
			"the analytics rollup",
		);
		await eventually(
			async () => ((await env.CACHE.get(`c1:item:projects:${project?.id}`)) === null ? true : undefined),
			20_000,
			"the cache invalidation",
		);
	});

	it("a poison message ends in the dead-letter queue after its retries and is recorded with its error", async () => {
		const tag = runId();
		await env.AUDIT_QUEUE.send({ poison: tag }, { contentType: "json" });
		const recorded = await eventually(
			async () =>
				(
					await query<{ consumer: string; error: string; attempts: number }>(
						sql`select consumer, error, attempts from dead_letters where body->>'poison' = ${tag}`,
					)
				)[0],
			55_000,
			"the dead letter",
		);
		expect(recorded).toMatchObject({ consumer: "audit", attempts: 6 });
		expect(recorded.error).toMatch(/invalid CloudEvent/);
	}, 60_000);

	it("the scheduled sweep re-sends what the outbox holds", async () => {
		const tag = runId();
		const event = makeEvent({ type: "users.authenticated", actor: `sweep-${tag}`, data: {} });
		await withDb(env, (db) => parkEvents(db, [{ event, consumer: "audit", error: "simulated outage" }]));
		await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env);
		expect(await query(sql`select 1 from event_outbox where event_id = ${event.id}`)).toEqual([]);
		await eventually(
			async () => (await query(sql`select 1 from audit_log where event_id = ${event.id}`))[0],
			20_000,
			"the swept event's audit row",
		);
	});

	it("the daily sweep prunes old dedupe records only", async () => {
		const old = `old-${runId()}`;
		const recent = `recent-${runId()}`;
		await query(sql`insert into processed_events (consumer, event_id, processed_at) values
			('audit', ${old}, now() - interval '40 days'), ('audit', ${recent}, now())`);
		await worker.scheduled(createScheduledController({ cron: "17 3 * * *", scheduledTime: Date.now() }), env);
		const left = await query<{ event_id: string }>(
			sql`select event_id from processed_events where event_id = any(${sql.param([old, recent])}::text[])`,
		);
		expect(left.map((r) => r.event_id)).toEqual([recent]);
	});
});
