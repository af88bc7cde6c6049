import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { NationLedger } from "../../durable-objects/nation-ledger/object.ts";
import { and, eq, like, sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { withDb } from "../../workers/db/client.ts";
import { ledgerEntries, ledgerProjectionState } from "../../workers/db/schema/ledger.ts";
import { processedEvents } from "../../workers/db/schema/processed-events.ts";
import type { LedgerEntry } from "../../workers/domain/ledger/entry.ts";
import type { HealthResponse } from "../../workers/routes/health/get-health.ts";
import { call, json } from "../support/http.ts";
import {
	deleteProjection,
	drain,
	key,
	LIVE_PROJECTION,
	ledger,
	projectedEntries,
	rewindProjection,
	STOPPED_PROJECTION,
	setProjectionDatabase,
} from "./support.ts";

const USED = ["PE", "CL", "AR"];
afterAll(async () => {
	await deleteProjection(USED);
	await withDb(env, (db) => db.delete(processedEvents).where(like(processedEvents.eventId, "ledger.AR.%")));
});

const fund = (amount: number, extra: Record<string, unknown> = {}) => ({
	kind: "adjustment",
	debit_account: "treasury",
	credit_account: "national_funding",
	amount,
	...extra,
});

async function allEntries(iso2: string): Promise<LedgerEntry[]> {
	const page = await ledger(iso2).entries({ fromSeq: 1, limit: 1_000 });
	return page.entries;
}

function asProjected(entry: LedgerEntry) {
	return {
		nationIso2: entry.nation,
		sequence: entry.sequence,
		transferId: entry.id,
		kind: entry.kind,
		phase: entry.phase,
		debitAccount: entry.debit_account,
		creditAccount: entry.credit_account,
		amountCents: entry.amount,
		pendingId: entry.pending_id,
		reversesId: entry.reverses_id,
		projectId: entry.reference.project_id,
		distributionId: entry.reference.distribution_id,
		period: entry.reference.period,
		metadata: entry.metadata,
		recordedAt: new Date(entry.timestamp_ms),
		expiresAt: entry.expires_at_ms === null ? null : new Date(entry.expires_at_ms),
		prevHash: entry.prev_hash,
		hash: entry.hash,
	};
}

describe("outbox projection into Postgres", () => {
	it("keeps accepting writes while Postgres is down and converges exactly once it is back", async () => {
		const l = ledger("PE");
		await setProjectionDatabase("PE", STOPPED_PROJECTION);
		for (let i = 0; i < 20; i++) {
			const written = await l.transfer(
				fund(1_000 + i, {
					reference: { period: "2026-11", project_id: crypto.randomUUID() },
					metadata: { i: String(i) },
				}),
				{ idempotencyKey: key() },
			);
			expect(written.ok).toBe(true);
			if (i % 5 === 0) await runDurableObjectAlarm(l);
		}
		const batch = await l.batch(
			Array.from({ length: 100 }, (_, i) => ({
				kind: "disbursement",
				debit_account: "disbursements",
				credit_account: "treasury",
				amount: 1 + i,
				...(i % 10 === 0 ? { pending: true, id: `pe-hold-${i}` } : {}),
			})),
			{ idempotencyKey: key() },
		);
		expect(batch.ok).toBe(true);
		await l.void("pe-hold-0");
		await l.post("pe-hold-10");
		await runDurableObjectAlarm(l);

		const during = await l.balances();
		expect(during.head.sequence).toBe(122);
		expect(during.projection).toMatchObject({ lag_entries: 122, projected_sequence: 0 });
		expect(during.projection.consecutive_failures).toBeGreaterThanOrEqual(1);
		expect(during.projection.last_error).toBeTruthy();
		expect(during.projection.next_attempt_at).not.toBeNull();
		expect(during.projection.lag_ms).toBeGreaterThanOrEqual(0);
		expect(await projectedEntries("PE")).toEqual([]);

		await setProjectionDatabase("PE", LIVE_PROJECTION);
		await drain("PE");
		const after = await l.balances();
		expect(after.projection).toMatchObject({
			lag_entries: 0,
			projected_sequence: 122,
			consecutive_failures: 0,
			last_error: null,
		});
		const rows = await projectedEntries("PE");
		expect(rows.map(({ projectedAt: _, ...row }) => row)).toEqual((await allEntries("PE")).map(asProjected));
	});

	it("re-draining the same entries duplicates nothing; a different row at a sequence is reported as divergence", async () => {
		const l = ledger("CL");
		await l.batch(Array.from({ length: 10 }, (_, i) => fund(i + 1)));
		await drain("CL");
		const head = await l.head();
		const state = () =>
			withDb(env, (db) =>
				db
					.select({
						sequence: ledgerProjectionState.projectedSequence,
						hash: ledgerProjectionState.projectedHash,
					})
					.from(ledgerProjectionState)
					.where(eq(ledgerProjectionState.nationIso2, "CL")),
			);
		expect(await state()).toEqual([{ sequence: 10, hash: head.hash }]);
		// Put every entry back in the outbox, as a crash between the Postgres commit and the watermark's move would.
		await rewindProjection(l, 0);
		await drain("CL");
		expect(await projectedEntries("CL")).toHaveLength(10);
		expect(await state()).toEqual([{ sequence: 10, hash: head.hash }]);
		// Replaying part of it (every row already there) leaves the state where it was.
		await rewindProjection(l, 3);
		await drain("CL");
		expect(await state()).toEqual([{ sequence: 10, hash: head.hash }]);

		await withDb(env, (db) =>
			db
				.update(ledgerEntries)
				.set({ hash: "f".repeat(64) })
				.where(and(eq(ledgerEntries.nationIso2, "CL"), eq(ledgerEntries.sequence, 4))),
		);
		await rewindProjection(l, 3);
		await runInDurableObject(l, (instance: NationLedger) => instance.alarm());
		const view = await l.balances();
		expect(view.projection.last_error).toMatch(/#4 with a different hash/);
		// The drain stops at the divergence: #4 and everything after it stay to project.
		expect(view.projection.lag_entries).toBe(7);
		expect(view.projection.projected_sequence).toBe(3);

		const [original] = (await allEntries("CL")).filter((e) => e.sequence === 4);
		await withDb(env, (db) =>
			db
				.update(ledgerEntries)
				.set({ hash: original?.hash })
				.where(and(eq(ledgerEntries.nationIso2, "CL"), eq(ledgerEntries.sequence, 4))),
		);
		await drain("CL");
		expect((await l.balances()).projection).toMatchObject({ lag_entries: 0, last_error: null });
	});

	it("announces posted entries once downstream under stable ids, however often they are drained", async () => {
		const l = ledger("AR");
		await l.batch([fund(5), fund(6), { ...fund(7), pending: true, id: "ar-hold" }]);
		await drain("AR");
		await rewindProjection(l, 0);
		await drain("AR");
		// The analytics consumer records each event id it applied; the pending hold is not a payment.
		let ids: string[] = [];
		// The consumer batches for up to 2 s and retries failures after 10 s.
		for (let attempt = 0; attempt < 120 && ids.length < 2; attempt++) {
			await new Promise((resolve) => setTimeout(resolve, 250));
			ids = await withDb(env, async (db) =>
				(
					await db
						.select({ id: processedEvents.eventId })
						.from(processedEvents)
						.where(
							and(eq(processedEvents.consumer, "analytics"), like(processedEvents.eventId, "ledger.AR.%")),
						)
				).map((r) => r.id),
			);
		}
		expect(ids.sort()).toEqual(["ledger.AR.1", "ledger.AR.2"]);
	}, 60_000);

	it("reports the projection lag in /v1/health from Postgres", async () => {
		await drain("PE");
		const health = await json<HealthResponse>(await call("/v1/health"));
		expect(health.ledger_projection).not.toBeNull();
		expect(health.ledger_projection?.nations).toBeGreaterThanOrEqual(1);
		expect(health.ledger_projection?.max_lag_ms).toBeGreaterThanOrEqual(0);
		const count = await withDb(env, (db) =>
			db.execute<{ n: number }>(
				sql`select count(*)::int as n from ledger_projection_state where nation_iso2 = 'PE'`,
			),
		);
		expect(count.rows[0]?.n).toBe(1);
	});
});
