import { ACCOUNT_CODES } from "../../workers/domain/ledger/accounts.ts";

/**
 * The ledger's SQLite schema, as numbered migrations applied once each (the version lives in ledger_meta).
 * Never edit a released migration: append a new one.
 *
 * - entries: the immutable, hash-chained log (one row per transfer or second phase), numbered by `sequence`.
 * - accounts: the running totals per account, updated in the same transaction as the entries that move them.
 * - pending_transfers: the state of each two-phase transfer (the entries themselves never change).
 * - reversals: which transfer reversed which (a transfer is reversed at most once).
 * - outbox (migration 1, dropped by 2): one row per entry not yet projected. Replaced by a watermark, since the
 *   entries are numbered without gaps: ledger_meta `projected_sequence` is the last entry projected, and every
 *   entry after it is the outbox. That saves a write per entry on the hot path and a delete per drain.
 * - idempotency_keys: the response of each keyed write, replayed for a retry, swept after the retention.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
	[
		`create table entries (
			sequence integer primary key,
			id text not null unique,
			kind text not null,
			phase text not null,
			debit_account text not null,
			credit_account text not null,
			amount integer not null check (amount > 0),
			pending_id text,
			reverses_id text,
			project_id text,
			distribution_id text,
			period text,
			metadata text not null,
			timestamp_ms integer not null,
			expires_at_ms integer,
			prev_hash text not null,
			hash text not null,
			check (debit_account <> credit_account)
		)`,
		"create index entries_kind_idx on entries (kind, sequence)",
		"create index entries_debit_idx on entries (debit_account, sequence)",
		"create index entries_credit_idx on entries (credit_account, sequence)",
		"create index entries_time_idx on entries (timestamp_ms)",
		`create table accounts (
			code text primary key,
			debits_pending integer not null default 0,
			debits_posted integer not null default 0,
			credits_pending integer not null default 0,
			credits_posted integer not null default 0
		)`,
		`create table pending_transfers (
			id text primary key,
			state text not null check (state in ('pending', 'posted', 'voided', 'expired')),
			expires_at_ms integer,
			resolved_by text
		)`,
		"create index pending_transfers_expiry_idx on pending_transfers (expires_at_ms) where state = 'pending'",
		"create table reversals (original_id text primary key, reversal_id text not null unique)",
		"create table outbox (sequence integer primary key, enqueued_at_ms integer not null)",
		`create table idempotency_keys (
			key text primary key,
			fingerprint text not null,
			status integer not null,
			body text not null,
			created_at_ms integer not null
		)`,
		"create index idempotency_keys_created_idx on idempotency_keys (created_at_ms)",
	],
	[
		// The projection watermark: everything before the oldest outbox row was projected (the entries have no gaps).
		`insert into ledger_meta (key, value) values ('projected_sequence', cast(coalesce(
			(select min(sequence) - 1 from outbox), (select max(sequence) from entries), 0) as text))`,
		"drop table outbox",
	],
];

/** Brings the object's SQLite schema up to date. Runs inside blockConcurrencyWhile, before any request. */
export function migrateLedgerSchema(storage: DurableObjectStorage): void {
	const { sql } = storage;
	storage.transactionSync(() => {
		sql.exec("create table if not exists ledger_meta (key text primary key, value text not null)");
		const row = sql
			.exec<{ value: string }>("select value from ledger_meta where key = 'schema_version'")
			.toArray()[0];
		const applied = row ? Number(row.value) : 0;
		for (let version = applied; version < MIGRATIONS.length; version++) {
			for (const statement of MIGRATIONS[version] ?? []) sql.exec(statement);
		}
		sql.exec(
			"insert into ledger_meta (key, value) values ('schema_version', ?) on conflict (key) do update set value = excluded.value",
			String(MIGRATIONS.length),
		);
		// New accounts in the chart appear in every ledger with zero totals.
		for (const code of ACCOUNT_CODES) sql.exec("insert or ignore into accounts (code) values (?)", code);
	});
}
