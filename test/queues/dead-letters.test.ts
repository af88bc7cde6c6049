import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { CloudEvent } from "../../queues/envelope.ts";
import type { DeadLetterPageResponse } from "../../workers/routes/admin/dead-letters/list-dead-letters.ts";
import type { RedriveResultResponse } from "../../workers/routes/admin/dead-letters/redrive-dead-letters.ts";
import type { DeadLetterResponse } from "../../workers/routes/admin/dead-letters/schema.ts";
import { bearer } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import { dispatchBatch, makeEvent, messageId, query, runBatch, runId } from "./support.ts";

/** A queue binding that records what it is sent. */
function recordingQueue() {
	const sent: CloudEvent[] = [];
	const queue = {
		async sendBatch(messages: Iterable<{ body: CloudEvent }>) {
			for (const m of messages) sent.push(m.body);
		},
	};
	return { queue: queue as unknown as Queue, sent };
}

/** Fails an event through the analytics consumer (unattributable), then dead-letters the same message. */
async function deadLetter(body: unknown) {
	const id = messageId();
	await runBatch("analytics", [{ id, body, attempts: 6 }]);
	const result = await dispatchBatch("covenant-analytics-dlq", [{ id, body }]);
	expect(result.ackAll).toBe(true);
	return id;
}

describe("dead letters", () => {
	it("records a dead-lettered message once, with the consumer's last error", async () => {
		const event = makeEvent({
			type: "covenant.payments.recorded",
			data: { nation: "QQ", kind: "fee", amount_cents: 5 },
		});
		const id = await deadLetter(event);
		await dispatchBatch("covenant-analytics-dlq", [{ id, body: event }]);
		const rows = await query<{
			consumer: string;
			queue: string;
			event_id: string;
			error: string;
			attempts: number;
		}>(sql`select consumer, queue, event_id, error, attempts from dead_letters where message_id = ${id}`);
		expect(rows).toEqual([
			{
				consumer: "analytics",
				queue: "covenant-analytics",
				event_id: event.id,
				error: expect.stringMatching(/cannot attribute/),
				attempts: 6,
			},
		]);
	});

	it("lists them for operators, filtered, newest first", async () => {
		const tag = runId();
		const event = makeEvent({
			type: "covenant.payments.recorded",
			data: { nation: "QQ", kind: `fee-${tag}`, amount_cents: 5 },
		});
		await deadLetter(event);
		await deadLetter({ garbage: tag });
		const admin = await bearer("admin");
		const page = await json<DeadLetterPageResponse>(
			await call(`/v1/admin/dead-letters?consumer=analytics&event_id=${event.id}`, { headers: admin }),
		);
		expect(page.data).toHaveLength(1);
		expect(page.data[0]).toMatchObject({
			consumer: "analytics",
			event_type: "covenant.payments.recorded",
			redriven_at: null,
			body: JSON.parse(JSON.stringify(event)),
		});

		const pending = await json<DeadLetterPageResponse>(
			await call("/v1/admin/dead-letters?status=pending&limit=1", { headers: admin }),
		);
		expect(pending.data).toHaveLength(1);
		expect(pending.next_cursor).not.toBeNull();
		const next = await json<DeadLetterPageResponse>(
			await call(`/v1/admin/dead-letters?status=pending&limit=1&cursor=${pending.next_cursor}`, {
				headers: admin,
			}),
		);
		expect(next.data[0]?.id).not.toBe(pending.data[0]?.id);
	});

	it("re-drives an event to its consumer's queue and records the re-drive; refuses bodies that are not events", async () => {
		const tag = runId();
		const event = makeEvent({
			type: "covenant.payments.recorded",
			data: { nation: "QQ", kind: `fee-${tag}`, amount_cents: 5 },
		});
		await deadLetter(event);
		const garbageMessage = await deadLetter({ garbage: tag });
		const admin = await bearer("admin");
		const analytics = recordingQueue();
		const [row] = (
			await json<DeadLetterPageResponse>(
				await call(`/v1/admin/dead-letters?event_id=${event.id}`, { headers: admin }),
			)
		).data;
		if (!row) throw new Error("dead letter not listed");

		const redriven = await call(
			`/v1/admin/dead-letters/${row.id}/redrive`,
			{ method: "POST", headers: admin },
			{ ANALYTICS_QUEUE: analytics.queue },
		);
		expect(redriven.status).toBe(202);
		expect(await json<DeadLetterResponse>(redriven)).toMatchObject({
			id: row.id,
			redrive_count: 1,
			redriven_at: expect.any(String),
		});
		expect(analytics.sent).toEqual([JSON.parse(JSON.stringify(event))]);

		const [garbage] = await query<{ id: string }>(
			sql`select id::text from dead_letters where message_id = ${garbageMessage}`,
		);
		const refused = await call(
			`/v1/admin/dead-letters/${garbage?.id}/redrive`,
			{ method: "POST", headers: admin },
			{ ANALYTICS_QUEUE: analytics.queue },
		);
		expect(refused.status).toBe(422);
		expect(analytics.sent).toHaveLength(1);

		expect(
			(
				await call(`/v1/admin/dead-letters/${crypto.randomUUID()}/redrive`, {
					method: "POST",
					headers: admin,
				})
			).status,
		).toBe(404);
	});

	it("re-drives many at once, by ids, skipping the ones already re-driven unless asked", async () => {
		const tag = runId();
		const events = [1, 2].map((n) =>
			makeEvent({
				type: "covenant.payments.recorded",
				data: { nation: "QQ", kind: `bulk-${tag}-${n}`, amount_cents: n },
			}),
		);
		for (const e of events) await deadLetter(e);
		const ids = (
			await query<{ id: string }>(
				sql`select id::text from dead_letters where event_id = any(${sql.param(events.map((e) => e.id))}::text[])`,
			)
		).map((r) => r.id);
		const admin = await bearer("admin");
		const analytics = recordingQueue();
		const redrive = async (body: unknown) =>
			json<RedriveResultResponse>(
				await call(
					"/v1/admin/dead-letters/redrive",
					{ method: "POST", headers: admin, json: body },
					{ ANALYTICS_QUEUE: analytics.queue },
				),
			);
		expect((await redrive({ ids })).redriven.sort()).toEqual([...ids].sort());
		const again = await redrive({ ids: [...ids, crypto.randomUUID()] });
		expect(again.redriven).toEqual([]);
		expect(again.refused.map((r) => r.reason).sort()).toEqual([
			"already re-driven; set include_redriven to send it again",
			"already re-driven; set include_redriven to send it again",
			"no such dead letter",
		]);
		expect((await redrive({ ids, include_redriven: true })).redriven).toHaveLength(2);
		expect(analytics.sent.map((e) => e.id).sort()).toEqual([...events, ...events].map((e) => e.id).sort());
	});

	it("is for administrators only", async () => {
		expect((await call("/v1/admin/dead-letters")).status).toBe(401);
		expect((await call("/v1/admin/dead-letters", { headers: await bearer("viewer") })).status).toBe(403);
		const redrive = await call("/v1/admin/dead-letters/redrive", {
			method: "POST",
			headers: await bearer("viewer"),
			json: { consumer: "audit" },
		});
		expect(redrive.status).toBe(403);
		expect(
			(
				await call("/v1/admin/dead-letters/redrive", {
					method: "POST",
					headers: await bearer("admin"),
					json: {},
				})
			).status,
		).toBe(400);
	});
});
