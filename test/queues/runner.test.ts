import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { retryDelaySeconds } from "../../queues/consumers/runner.ts";
import { STOPPED_DATABASE } from "../support/http.ts";
import { dispatchBatch, makeEvent, messageId, query, runBatch, runId } from "./support.ts";

describe("retry backoff", () => {
	it("doubles from 10 s up to 10 minutes (±20%), and retries an invalid body after a second", () => {
		const within = (value: number, base: number) => value >= base * 0.8 && value <= base * 1.2;
		expect(within(retryDelaySeconds(1, false), 10)).toBe(true);
		expect(within(retryDelaySeconds(2, false), 20)).toBe(true);
		expect(within(retryDelaySeconds(4, false), 80)).toBe(true);
		expect(within(retryDelaySeconds(20, false), 600)).toBe(true);
		expect(retryDelaySeconds(3, true)).toBe(1);
	});
});

describe("the consumer runner", () => {
	it("acks every copy of an event delivered twice in one batch, and applies it once", async () => {
		const tag = runId();
		const event = makeEvent({ type: "users.authenticated", actor: `twice-${tag}`, data: {} });
		const result = await runBatch("audit", [{ body: event }, { body: event }]);
		expect(result.explicitAcks).toHaveLength(2);
		expect(await query(sql`select seq from audit_log where event_id = ${event.id}`)).toHaveLength(1);
	});

	it("hands every message back, acking none, when Postgres is unreachable", async () => {
		const events = [1, 2, 3].map(() => makeEvent({ type: "users.authenticated", data: {} }));
		const result = await runBatch(
			"audit",
			events.map((body) => ({ body })),
			undefined,
			STOPPED_DATABASE,
		);
		expect(result.explicitAcks).toEqual([]);
		expect(result.retryMessages).toHaveLength(3);
		expect(result.outcome).toBe("ok");
	});

	it("retries a whole batch from a queue it has no consumer for, rather than acknowledging it unread", async () => {
		const result = await dispatchBatch("covenant-unknown", [{ id: messageId(), body: {} }]);
		expect(result.retryBatch.retry).toBe(true);
		expect(result.explicitAcks).toEqual([]);
	});

	it("a failure inside the batch transaction leaves no partial effect: the others commit one by one", async () => {
		const tag = runId();
		const good = [1, 2, 3].map((i) =>
			makeEvent({ type: "users.authenticated", actor: `partial-${tag}`, data: { i } }),
		);
		const bad = good[1];
		const result = await runBatch(
			"audit",
			good.map((body) => ({ body })),
			{
				faults: (point, event) => {
					if (point === "in-transaction" && event.id === bad?.id) throw new Error("crash inside");
				},
			},
		);
		expect(result.explicitAcks).toHaveLength(2);
		expect(result.retryMessages).toHaveLength(1);
		const rows = await query<{ event_id: string }>(
			sql`select event_id from audit_log where actor = ${`partial-${tag}`}`,
		);
		expect(rows.map((r) => r.event_id).sort()).toEqual([good[0]?.id, good[2]?.id].sort());
		expect(
			await query(
				sql`select 1 from processed_events where consumer = 'audit' and event_id = ${bad?.id ?? ""}`,
			),
		).toEqual([]);
	});
});
