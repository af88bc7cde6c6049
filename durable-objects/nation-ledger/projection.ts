import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import { createEventPublisher, type EventProducerEnv } from "../../queues/producer.ts";
import type { Database } from "../../workers/db/client.ts";
import { ledgerEntries } from "../../workers/db/schema/ledger.ts";
import type { LedgerEntry } from "../../workers/domain/ledger/entry.ts";

/**
 * Projects ledger entries into Postgres and announces them as events. Both halves are idempotent, so the
 * outbox may hand the same entries over again after any failure:
 * - rows are keyed on (nation, sequence) and inserted with `on conflict do nothing`; an existing row whose hash
 *   differs from the ledger's is a divergence and fails the drain loudly instead of being skipped;
 * - events carry ids derived from (nation, sequence), so consumers deduplicate a re-sent event.
 */

/** Where the projection is written: the worker's DATABASE_URL (and local WebSocket proxy). */
export type ProjectionDatabase = Pick<Env, "DATABASE_URL" | "NEON_WS_PROXY">;

export class ProjectionDivergenceError extends Error {
	constructor(nation: string, sequence: number) {
		super(
			`ledger_entries already holds ${nation} #${sequence} with a different hash: the projection diverges from the ledger (was the ledger's storage replaced, or the projection written by something else?)`,
		);
		this.name = "ProjectionDivergenceError";
	}
}

/**
 * Writes entries (consecutive, oldest first) to ledger_entries and moves the nation's projection state forward.
 * Each statement commits on its own and all are idempotent, so no transaction is held open across round trips (a
 * connection pooler in transaction mode, or an embedded Postgres serving many ledgers, is not blocked by a slow
 * drain); a drain interrupted between them is simply repeated.
 */
export async function writeProjection(
	db: Database,
	nation: string,
	entries: readonly LedgerEntry[],
	backlog: number,
): Promise<void> {
	const first = entries[0];
	const last = entries.at(-1);
	if (!first || !last) return;
	// The common case in one round trip: the rows, and the state when every row was new.
	const inserted = (
		await db.execute(sql`with inserted as (${insertEntries(nation, entries)}),
			state as (${projectionState(nation, first, last, backlog, sql`(select count(*) from inserted) = ${entries.length}`)})
			select sequence from inserted`)
	).rows as { sequence: string | number }[];
	if (inserted.length === entries.length) return;
	// Some rows were there already (a drain repeated after a failure): they must be the same entries.
	const fresh = new Set(inserted.map((r) => Number(r.sequence)));
	const replayed = entries.filter((e) => !fresh.has(e.sequence));
	const existing = await db
		.select({ sequence: ledgerEntries.sequence, hash: ledgerEntries.hash })
		.from(ledgerEntries)
		.where(
			and(
				eq(ledgerEntries.nationIso2, nation),
				inArray(
					ledgerEntries.sequence,
					replayed.map((e) => e.sequence),
				),
			),
		);
	const hashes = new Map(existing.map((r) => [r.sequence, r.hash]));
	for (const entry of replayed) {
		if (hashes.get(entry.sequence) !== entry.hash)
			throw new ProjectionDivergenceError(nation, entry.sequence);
	}
	await db.execute(projectionState(nation, first, last, backlog, sql`true`));
}

/**
 * The nation's projection state after a drain, as an upsert that never moves the projection backwards (a
 * replayed, older batch only refreshes the times). `last_lag_ms` is the lag of the drain's oldest entry.
 */
function projectionState(nation: string, first: LedgerEntry, last: LedgerEntry, backlog: number, when: SQL) {
	return sql`insert into ledger_projection_state
			(nation_iso2, projected_sequence, projected_hash, projected_at, last_lag_ms, backlog_entries)
		select ${nation}, ${last.sequence}::bigint, ${last.hash}, now(),
			greatest(0, (extract(epoch from now()) * 1000)::bigint - ${first.timestamp_ms}::bigint)::integer,
			${backlog}::integer
		where ${when}
		on conflict (nation_iso2) do update set
			projected_sequence = greatest(ledger_projection_state.projected_sequence, excluded.projected_sequence),
			projected_hash = case when excluded.projected_sequence >= ledger_projection_state.projected_sequence
				then excluded.projected_hash else ledger_projection_state.projected_hash end,
			projected_at = excluded.projected_at,
			last_lag_ms = excluded.last_lag_ms,
			backlog_entries = excluded.backlog_entries`;
}

/**
 * One `insert ... select from unnest(...)` for the whole batch: a fixed 18 parameters (one array per column)
 * whatever the number of rows, so neither the query builder nor Postgres's parser grows with the batch (a
 * multi-row VALUES built by the ORM cost more CPU than the rest of the drain). Timestamps travel as integer
 * milliseconds, converted exactly in SQL, so nothing passes through a float.
 */
function insertEntries(nation: string, entries: readonly LedgerEntry[]) {
	const column = <T>(pick: (entry: LedgerEntry) => T) => sql.param(entries.map(pick));
	const at = (ms: SQL) => sql`timestamptz 'epoch' + ${ms} * interval '1 millisecond'`;
	return sql`insert into ledger_entries (nation_iso2, sequence, transfer_id, kind, phase, debit_account,
			credit_account, amount_cents, pending_id, reverses_id, project_id, distribution_id, period, metadata,
			recorded_at, expires_at, prev_hash, hash)
		select ${nation}, r.sequence, r.transfer_id, r.kind, r.phase, r.debit_account, r.credit_account, r.amount_cents,
			r.pending_id, r.reverses_id, r.project_id, r.distribution_id, r.period, r.metadata::jsonb,
			${at(sql`r.recorded_ms`)}, ${at(sql`r.expires_ms`)}, r.prev_hash, r.hash
		from unnest(
			${column((e) => e.sequence)}::bigint[], ${column((e) => e.id)}::text[], ${column((e) => e.kind)}::text[],
			${column((e) => e.phase)}::text[], ${column((e) => e.debit_account)}::text[],
			${column((e) => e.credit_account)}::text[], ${column((e) => e.amount)}::bigint[],
			${column((e) => e.pending_id)}::text[], ${column((e) => e.reverses_id)}::text[],
			${column((e) => e.reference.project_id)}::uuid[], ${column((e) => e.reference.distribution_id)}::text[],
			${column((e) => e.reference.period)}::text[], ${column((e) => JSON.stringify(e.metadata))}::text[],
			${column((e) => e.timestamp_ms)}::bigint[], ${column((e) => e.expires_at_ms)}::bigint[],
			${column((e) => e.prev_hash)}::text[], ${column((e) => e.hash)}::text[]
		) as r(sequence, transfer_id, kind, phase, debit_account, credit_account, amount_cents, pending_id,
			reverses_id, project_id, distribution_id, period, metadata, recorded_ms, expires_ms, prev_hash, hash)
		on conflict (nation_iso2, sequence) do nothing
		returning sequence`;
}

/** The stable event id of an entry: the same entry always announces itself under the same id. */
export function ledgerEventId(nation: string, sequence: number): string {
	return `ledger.${nation}.${sequence}`;
}

/**
 * Publishes `covenant.payments.recorded` for the entries that post money (single transfers, reversals and posted
 * second phases). Pending holds, voids and expiries move no posted money and are not announced: a consumer that
 * sums amounts by kind therefore counts each payment once.
 */
export async function publishLedgerEvents(
	env: EventProducerEnv,
	nation: string,
	servingRegion: string | undefined,
	entries: readonly LedgerEntry[],
): Promise<void> {
	const posted = entries.filter((e) => e.phase === "single" || e.phase === "post");
	if (posted.length === 0) return;
	const publisher = createEventPublisher(env, { source: `covenant-edge/ledger/${nation}` });
	await publisher.publish(
		...posted.map((entry) => ({
			type: "covenant.payments.recorded" as const,
			id: ledgerEventId(nation, entry.sequence),
			subject: `nations/${nation}/ledger/transfers/${entry.id}`,
			time: new Date(entry.timestamp_ms),
			data: {
				nation,
				kind: entry.kind,
				amount_cents: entry.amount,
				transfer_id: entry.id,
				sequence: entry.sequence,
				phase: entry.phase,
				debit_account: entry.debit_account,
				credit_account: entry.credit_account,
				hash: entry.hash,
				...(entry.reference.project_id ? { project_id: entry.reference.project_id } : {}),
				...(entry.reference.distribution_id ? { distribution_id: entry.reference.distribution_id } : {}),
				...(entry.reference.period ? { period: entry.reference.period } : {}),
				...(servingRegion ? { serving_region: servingRegion } : {}),
			},
		})),
	);
}
