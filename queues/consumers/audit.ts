import { sql } from "drizzle-orm";
import type { Database } from "../../workers/db/client.ts";
import { SERVING_REGIONS } from "../../workers/domain/serving-regions.ts";
import { textArray } from "../db.ts";
import type { CloudEvent } from "../envelope.ts";
import { SECTOR_SLUGS, sectorOfType } from "../events/types.ts";
import { type AuditRecord, chainHash, GENESIS_HASH } from "./audit-chain.ts";
import type { CustomCommitConsumer } from "./runner.ts";

/** How many times a batch re-reads the head after another batch appended first, before it gives up (retried). */
const APPEND_ATTEMPTS = 20;

/**
 * The audit consumer: appends every event to the hash-chained `audit_log`, exactly once.
 *
 * Appends are serialised on the chain head (`audit_chain_head`) by compare-and-set rather than a lock held
 * across the hashing: read the head and which events were already recorded (one statement), hash the new rows
 * in JavaScript, then one statement moves the head from exactly that (seq, hash) to the new one and, only if it
 * moved, records the events in `processed_events` and inserts the rows. A batch that lost the race to another
 * (the head moved meanwhile) inserts nothing and starts over from the new head, so the chain can never fork, and
 * a batch costs two round trips instead of a five-statement transaction.
 */
export const auditConsumer: CustomCommitConsumer = {
	name: "audit",
	async commit(db, events, { now }, checkpoint) {
		const unique = [...new Map(events.map((e) => [e.id, e])).values()];
		// Within a batch, in the order the events happened (across batches the log is in arrival order).
		unique.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
		for (let attempt = 1; attempt <= APPEND_ATTEMPTS; attempt++) {
			const { head, seen } = await readHead(db, unique);
			const fresh = unique.filter((e) => !seen.has(e.id));
			for (const event of fresh) checkpoint(event);
			if (fresh.length === 0) return { fresh: new Set(), outbox: [] };
			const rows: (AuditRecord & { prevHash: string; hash: string })[] = [];
			let prevHash = head.hash;
			for (const [i, event] of fresh.entries()) {
				const record = auditRecordOf(event, head.seq + i + 1, now);
				const hash = await chainHash(prevHash, record);
				rows.push({ ...record, prevHash, hash });
				prevHash = hash;
			}
			if (await appendIfHeadUnmoved(db, head, rows))
				return { fresh: new Set(fresh.map((e) => e.id)), outbox: [] };
		}
		throw new Error(`the audit chain head moved under this batch ${APPEND_ATTEMPTS} times in a row`);
	},
};

async function readHead(
	db: Database,
	events: CloudEvent[],
): Promise<{ head: { seq: number; hash: string }; seen: Set<string> }> {
	for (;;) {
		const result = await db.execute<{ seq: string | number; hash: string; seen: string[] }>(sql`
			select h.seq, h.hash, (
				select coalesce(json_agg(p.event_id), '[]'::json) from processed_events p
				where p.consumer = 'audit' and p.event_id = any(${textArray(events.map((e) => e.id))})
			) as seen
			from audit_chain_head h where h.id = 1`);
		const row = result.rows[0];
		if (row) return { head: { seq: Number(row.seq), hash: row.hash }, seen: new Set(row.seen) };
		// A database created without the migration's genesis row: create it, then read again.
		await db.execute(
			sql`insert into audit_chain_head (id, seq, hash) values (1, 0, ${GENESIS_HASH}) on conflict (id) do nothing`,
		);
	}
}

/** One statement: move the head from `head` to the last row, and only then record the events and insert the rows. */
async function appendIfHeadUnmoved(
	db: Database,
	head: { seq: number; hash: string },
	rows: (AuditRecord & { prevHash: string; hash: string })[],
): Promise<boolean> {
	const last = rows.at(-1);
	if (!last) return true;
	const json = rows.map((r) => ({
		seq: r.seq,
		event_id: r.eventId,
		occurred_at: r.occurredAt.toISOString(),
		recorded_at: r.recordedAt.toISOString(),
		actor: r.actor,
		action: r.action,
		target: r.target,
		request_id: r.requestId,
		source: r.source,
		nation: r.nation,
		sector: r.sector,
		serving_region: r.servingRegion,
		before: r.before,
		after: r.after,
		data: r.data,
		prev_hash: r.prevHash,
		hash: r.hash,
	}));
	const result = await db.execute<{ moved: number }>(sql`
		with moved as (
			update audit_chain_head set seq = ${last.seq}, hash = ${last.hash}, updated_at = now()
			where id = 1 and seq = ${head.seq} and hash = ${head.hash}
			returning 1
		),
		recorded as (
			insert into processed_events (consumer, event_id)
			select 'audit', id from unnest(${textArray(rows.map((r) => r.eventId))}) as id
			where exists (select 1 from moved)
		),
		appended as (
			insert into audit_log (seq, event_id, occurred_at, recorded_at, actor, action, target, request_id, source,
				nation, sector, serving_region, before, after, data, prev_hash, hash)
			select r.* from jsonb_to_recordset(${JSON.stringify(json)}::jsonb) as r(
				seq bigint, event_id text, occurred_at timestamptz, recorded_at timestamptz, actor text, action text,
				target text, request_id text, source text, nation char(2), sector text, serving_region text,
				before jsonb, after jsonb, data jsonb, prev_hash char(64), hash char(64))
			where exists (select 1 from moved)
		)
		select count(*)::int as moved from moved`);
	return Number(result.rows[0]?.moved ?? 0) === 1;
}

const objectOrNull = (value: unknown): Record<string, unknown> | null =>
	value !== null && typeof value === "object" && !Array.isArray(value)
		? (value as Record<string, unknown>)
		: null;

/** The value when it has the attribute's shape; the log never stores a malformed scope attribute. */
const matching = (value: unknown, pattern: RegExp): string | null =>
	typeof value === "string" && pattern.test(value) ? value : null;

const SECTOR_PATTERN = new RegExp(`^(${SECTOR_SLUGS.join("|")})$`);
const REGION_PATTERN = new RegExp(`^(${SERVING_REGIONS.join("|")})$`);

export function auditRecordOf(event: CloudEvent, seq: number, recordedAt: Date): AuditRecord {
	const data = event.data;
	return {
		seq,
		eventId: event.id,
		// Millisecond precision: what a JavaScript Date and the canonical encoding carry.
		occurredAt: new Date(event.time),
		recordedAt,
		actor: event.actor ?? "system",
		action: event.type,
		target: event.subject ?? null,
		requestId: event.requestid ?? null,
		source: event.source,
		nation: matching(data.nation, /^[A-Z]{2}$/),
		sector: matching(data.sector, SECTOR_PATTERN) ?? sectorOfType(event.type) ?? null,
		servingRegion: matching(data.serving_region, REGION_PATTERN),
		before: objectOrNull(data.before),
		after: objectOrNull(data.after),
		data,
	};
}
