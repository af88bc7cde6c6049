/**
 * The saga's SQLite schema, as numbered migrations applied once each (the version lives in saga_meta). Never edit
 * a released migration: append a new one.
 *
 * - saga: one row, the distribution's plan (JSON, as created) and the saga's state;
 * - shares: one row per nation in the plan and what happened to its posting.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
	[
		`create table saga (
			id text primary key,
			plan text not null,
			digest text not null,
			status text not null,
			created_at_ms integer not null,
			completed_at_ms integer,
			consecutive_failures integer not null default 0,
			last_error text,
			next_attempt_at_ms integer
		)`,
		`create table shares (
			nation text primary key,
			position integer not null unique,
			share_cents integer not null check (share_cents >= 0),
			transfer_id text,
			state text not null,
			ledger_sequence integer,
			entry_hash text,
			posted_at_ms integer,
			attempts integer not null default 0,
			last_error text
		)`,
		"create index shares_state_idx on shares (state, position)",
	],
];

export function migrateSagaSchema(storage: DurableObjectStorage): void {
	storage.sql.exec("create table if not exists saga_meta (key text primary key, value text not null)");
	const row = storage.sql
		.exec<{ value: string }>("select value from saga_meta where key = 'schema_version'")
		.toArray()[0];
	let version = row ? Number(row.value) : 0;
	while (version < MIGRATIONS.length) {
		const statements = MIGRATIONS[version] ?? [];
		storage.transactionSync(() => {
			for (const statement of statements) storage.sql.exec(statement);
			storage.sql.exec(
				"insert into saga_meta (key, value) values ('schema_version', ?) on conflict (key) do update set value = excluded.value",
				String(version + 1),
			);
		});
		version += 1;
	}
}
