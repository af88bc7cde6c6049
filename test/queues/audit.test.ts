import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { canonicalJson, verifyChain } from "../../queues/consumers/audit-chain.ts";
import { withDb } from "../../workers/db/client.ts";
import { makeEvent, messageId, query, runBatch, runId } from "./support.ts";

describe("audit consumer (unit)", () => {
	it("appends each event once, hash-chained, with who, what, target, request id and before/after", async () => {
		const tag = runId();
		const updated = makeEvent({
			type: "covenant.projects.updated",
			subject: `projects/${tag}`,
			actor: `user-${tag}`,
			data: {
				project_id: tag,
				sector: "energy",
				nation: "KE",
				before: { status: "approved" },
				after: { status: "active" },
			},
		});
		const created = makeEvent({
			type: "covenant.projects.created",
			subject: `projects/${tag}`,
			actor: `user-${tag}`,
			data: { project_id: tag, sector: "energy", nation: "KE" },
		});
		const result = await runBatch("audit", [{ body: updated }, { body: created }, { body: updated }]);
		expect(result.explicitAcks).toHaveLength(3);
		expect(result.retryMessages).toEqual([]);

		const rows = await query<{
			seq: string;
			action: string;
			actor: string;
			target: string;
			request_id: string;
			before: unknown;
			after: unknown;
			nation: string;
			sector: string;
			prev_hash: string;
			hash: string;
		}>(
			sql`select seq, action, actor, target, request_id, before, after, nation, sector, prev_hash, hash from audit_log where actor = ${`user-${tag}`} order by seq`,
		);
		expect(rows).toHaveLength(2);
		const update = rows.find((r) => r.action === "covenant.projects.updated");
		expect(update).toMatchObject({
			actor: `user-${tag}`,
			target: `projects/${tag}`,
			request_id: updated.requestid,
			before: { status: "approved" },
			after: { status: "active" },
			nation: "KE",
			sector: "energy",
		});
		// Appended in one batch: the second links to the first.
		expect(Number(rows[1]?.seq)).toBe(Number(rows[0]?.seq) + 1);
		expect(rows[1]?.prev_hash).toBe(rows[0]?.hash);
	});

	it("changes nothing when a message is redelivered", async () => {
		const tag = runId();
		const event = makeEvent({ type: "users.authenticated", actor: `user-${tag}`, data: { user_id: tag } });
		await runBatch("audit", [{ body: event }]);
		const again = await runBatch("audit", [{ body: event, id: messageId(), attempts: 2 }]);
		expect(again.explicitAcks).toHaveLength(1);
		const rows = await query(sql`select seq from audit_log where event_id = ${event.id}`);
		expect(rows).toHaveLength(1);
	});

	it("retries a body that is not a valid event, without blocking the valid ones", async () => {
		const tag = runId();
		const good = makeEvent({ type: "users.authenticated", actor: `user-${tag}`, data: {} });
		const poisonId = messageId();
		const result = await runBatch("audit", [{ body: { not: "an event" }, id: poisonId }, { body: good }]);
		expect(result.retryMessages.map((m) => m.msgId)).toEqual([poisonId]);
		expect(result.explicitAcks).toHaveLength(1);
		const failures = await query<{ error: string; attempts: number }>(
			sql`select error, attempts from event_failures where consumer = 'audit' and message_id = ${poisonId}`,
		);
		expect(failures[0]?.error).toMatch(/invalid CloudEvent/);
	});
});

describe("concurrent batches", () => {
	it("never fork the chain: each loses or wins the head, and the loser appends after the winner", async () => {
		const tag = runId();
		const batches = Array.from({ length: 6 }, (_, b) =>
			Array.from({ length: 15 }, (_, i) =>
				makeEvent({ type: "users.authenticated", actor: `race-${tag}`, data: { batch: b, i } }),
			),
		);
		const results = await Promise.all(
			batches.map((events) =>
				runBatch(
					"audit",
					events.map((body) => ({ body })),
				),
			),
		);
		expect(results.every((r) => r.retryMessages.length === 0)).toBe(true);
		const rows = await query<{ seq: number; prev_hash: string; hash: string }>(
			sql`select seq::int as seq, prev_hash, hash from audit_log where actor = ${`race-${tag}`} order by seq`,
		);
		expect(rows).toHaveLength(90);
		const verification = await withDb(env, (db) => verifyChain(db, { fromSeq: rows[0]?.seq, limit: 20_000 }));
		expect(verification).toMatchObject({ ok: true, complete: true, first_broken: null });
	});
});

describe("canonical encoding", () => {
	it("sorts keys at every level, omits undefined, keeps array order", () => {
		expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined }, e: null })).toBe(
			'{"a":{"d":[3,{"y":2,"z":1}]},"b":1,"e":null}',
		);
	});
});
