import { type SQL, sql } from "drizzle-orm";
import type { Principal } from "../auth/principal.ts";
import type { Database } from "../db/client.ts";
import { NOTIFICATION_CATEGORIES } from "../db/schema/notifications.ts";
import { ApiError } from "../lib/problem.ts";
import { readHorizon } from "./horizon.ts";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./limits.ts";
import { RESYNC_AFTER_DAYS, RESYNC_AFTER_MS, TOMBSTONE_RETENTION_DAYS } from "./retention.ts";
import { tombstoneScopeFor, visibleWhere } from "./scope.ts";
import { type SchemaVersion, type SyncTable, type SyncTableName, tablesAt } from "./tables.ts";

export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE };

export interface PullOptions {
	/** The `timestamp` of the client's last pull; null for a first sync. */
	lastPulledAt: number | null;
	schemaVersion: SchemaVersion;
	/** Tables whose every record the client needs regardless of lastPulledAt (a migration sync). */
	fullTables: ReadonlySet<SyncTableName>;
	/** Of those, the tables the migration created on the client: every record is new to it. */
	newTables: ReadonlySet<SyncTableName>;
	pageSize: number;
}

export interface PullPage {
	/** The response body, exactly WatermelonDB's `{ changes, timestamp }` plus `has_more`. */
	body: string;
	timestamp: number;
	hasMore: boolean;
	/** Records in the page (created + updated + deleted). */
	records: number;
}

type Executor = Pick<Database, "execute">;

/** One table's part of a pull: the window of stamps it covers and how its records are classified. */
interface TablePlan {
	table: SyncTable;
	/** Exclusive lower bound of the stamps sent; null = from the beginning. */
	lower: number | null;
	/** The client has nothing of this table: every record is new to it, and no tombstone is needed. */
	empty: boolean;
	/** The client is filling an empty database page by page: what it has not been sent yet is new to it. */
	fillingUp: boolean;
}

/**
 * Builds one pull response for the principal.
 *
 * The horizon (horizon.ts) bounds what may be sent; within it, a page holds every change with a stamp up to
 * `timestamp`, chosen so the page holds at most `pageSize` records (more only when a single millisecond holds
 * more: a millisecond is never split, because the client resumes from `timestamp`). When more remains,
 * `has_more` is true and the client pulls again from `timestamp`. All reads share one REPEATABLE READ
 * snapshot, so the page is consistent across tables, and every record is built as JSON text by Postgres: the
 * worker only concatenates, so a page costs little CPU and memory is bounded by the page, never a table.
 */
export async function pullChanges(
	db: Database,
	principal: Principal,
	options: PullOptions,
): Promise<PullPage> {
	const lastPulledAt = options.lastPulledAt;
	const horizon = await readHorizon(db);
	if (lastPulledAt !== null && lastPulledAt > horizon.nowMs) {
		throw new ApiError(
			"invalid_request",
			`last_pulled_at ${lastPulledAt} is in the future (the server's clock reads ${horizon.nowMs}); send the timestamp of your last pull, or null for a first sync`,
		);
	}
	if (lastPulledAt !== null && lastPulledAt < horizon.nowMs - RESYNC_AFTER_MS) {
		throw new ApiError(
			"resync_required",
			`This device last synchronized more than ${RESYNC_AFTER_DAYS} days ago; deletions are remembered for ${TOMBSTONE_RETENTION_DAYS} days, so some since then may be gone. Reset the local database and synchronize from scratch (last_pulled_at=null)`,
			{ extensions: { last_pulled_at: lastPulledAt, resync_after_days: RESYNC_AFTER_DAYS } },
		);
	}
	if (horizon.safeMs === null && lastPulledAt === null) {
		throw new ApiError(
			"unavailable",
			"A consistent snapshot cannot be taken while a write transaction of unknown age is open; retry shortly",
			{ headers: { "retry-after": "2" } },
		);
	}
	// Timestamps a pull hands out are even, except the page ends of a first sync, which are odd: a client
	// pulling from an odd timestamp is still filling an empty database, so whatever it has not been sent yet
	// is new to it (created). The horizon can trail lastPulledAt (a transaction that started earlier has only
	// now begun writing); the client holds everything up to lastPulledAt, so the answer never goes back before it.
	const continuingFirstSync = lastPulledAt !== null && lastPulledAt % 2 === 1;
	const firstSync = lastPulledAt === null || continuingFirstSync;
	const upper = Math.max(evenFloor(horizon.safeMs ?? 0), lastPulledAt ?? 0);

	const plans: TablePlan[] = tablesAt(options.schemaVersion).map((table) => {
		const full = lastPulledAt === null || options.fullTables.has(table.name);
		const empty = lastPulledAt === null || options.newTables.has(table.name);
		return {
			table,
			lower: full ? null : lastPulledAt,
			empty,
			fillingUp: continuingFirstSync,
		};
	});

	return db.transaction(
		async (tx) => {
			const page = await pageEnd(tx, principal, plans, upper, options.pageSize);
			const timestamp = page.end < upper ? alignPageEnd(page.end, firstSync, lastPulledAt, upper) : upper;
			// Nothing changed (the common background sync): no record can be due, unless a table is sent from the
			// beginning (the settings defaults have no stamp).
			const skip = page.empty && plans.every((plan) => plan.lower !== null);
			// Two queries for the whole page (every table at once): each round trip to Postgres costs more than
			// the rows it carries.
			const changed = skip
				? { rows: [] }
				: await tx.execute<{ table_name: string; record: string; is_new: boolean }>(
						sql`${sql.join(
							plans.map((plan) => sql`(${changedRecords(principal, plan, lastPulledAt, timestamp)})`),
							sql` union all `,
						)} order by 1, 2`,
					);
			const deletable = plans.filter((plan) => !plan.empty);
			const deleted =
				skip || deletable.length === 0
					? { rows: [] }
					: await tx.execute<{ table_name: string; id: string }>(
							sql`${sql.join(
								deletable.map((plan) => sql`(${deletedIds(principal, plan, timestamp)})`),
								sql` union all `,
							)} order by 1, 2`,
						);
			const lists = new Map(
				plans.map((p) => [
					p.table.name as string,
					{ created: [] as string[], updated: [] as string[], deleted: [] as string[] },
				]),
			);
			for (const row of changed.rows)
				lists.get(row.table_name)?.[row.is_new ? "created" : "updated"].push(row.record);
			for (const row of deleted.rows) lists.get(row.table_name)?.deleted.push(row.id);
			const parts: string[] = [];
			for (const [name, list] of lists) {
				parts.push(
					`${JSON.stringify(name)}:{"created":[${list.created.join(",")}],"updated":[${list.updated.join(",")}],"deleted":${JSON.stringify(list.deleted)}}`,
				);
			}
			const records = changed.rows.length + deleted.rows.length;
			const hasMore = timestamp < upper;
			return {
				body: `{"changes":{${parts.join(",")}},"timestamp":${timestamp},"has_more":${hasMore}}`,
				timestamp,
				hasMore,
				records,
			};
		},
		{ isolationLevel: "repeatable read", accessMode: "read only" },
	);
}

const evenFloor = (ms: number) => ms - (ms % 2);

/**
 * A page end with the parity that tells the next pull what the client holds (odd: inside a first sync), moved
 * by one millisecond at most: down while that still makes progress past lastPulledAt, else up.
 */
function alignPageEnd(cut: number, firstSync: boolean, lastPulledAt: number | null, upper: number): number {
	if ((cut % 2 === 1) === firstSync) return cut;
	if (lastPulledAt === null || cut - 1 > lastPulledAt) return cut - 1;
	return Math.min(cut + 1, upper);
}

/** `stamp > lower and stamp <= upper` for a stamp column. */
function windowOf(column: string, lower: number | null, upper: number): SQL {
	const below = sql`${sql.raw(column)} <= ${upper}`;
	return lower === null ? below : sql`${sql.raw(column)} > ${lower} and ${below}`;
}

/** Which rows of a table the principal syncs: its scope (reference data) or its own rows. */
function rowsOf(table: SyncTable, principal: Principal): SQL {
	return table.kind === "reference"
		? visibleWhere(principal.visibility(table.permission), table.scope)
		: sql`${sql.raw(`r.${table.owner}`)} = ${principal.id}`;
}

/** Which tombstones of a table concern the principal: its scope before the change, or its own rows. */
function tombstonesOf(table: SyncTable, principal: Principal): SQL {
	return table.kind === "reference"
		? visibleWhere(principal.visibility(table.permission), tombstoneScopeFor(table.scope))
		: sql`t.owner_id = ${principal.id}`;
}

const live = (table: SyncTable) =>
	table.kind === "reference" && table.softDeleted ? sql.raw(`not (${table.softDeleted})`) : sql`true`;

/**
 * The last stamp of this page: the horizon when everything fits, else the stamp just before the
 * (pageSize + 1)-th change (never splitting a millisecond: if the first one alone overflows, it is sent whole).
 */
async function pageEnd(
	tx: Executor,
	principal: Principal,
	plans: TablePlan[],
	upper: number,
	pageSize: number,
): Promise<{ end: number; empty: boolean }> {
	const stamps: SQL[] = [];
	for (const { table, lower, empty } of plans) {
		const rows = sql`${rowsOf(table, principal)} and ${windowOf("r.sync_changed_ms", lower, upper)}`;
		// Soft-deleted rows only matter to a client that may hold them.
		stamps.push(
			sql`select r.sync_changed_ms as m from ${sql.raw(table.source)} r where ${rows} and ${empty ? live(table) : sql`true`}`,
		);
		if (!empty) {
			stamps.push(
				sql`select t.changed_ms as m from sync_tombstones t where t.table_name = ${table.name} and ${tombstonesOf(table, principal)} and ${windowOf("t.changed_ms", lower, upper)}`,
			);
		}
	}
	const result = await tx.execute<{ first: number | null; overflow: number | null }>(sql`
		with changes as (${sql.join(stamps, sql` union all `)})
		select
			(select min(m) from changes)::float8 as first,
			(select m from changes order by m offset ${pageSize} limit 1)::float8 as overflow
	`);
	const row = result.rows[0];
	if (!row || row.first === null) return { end: upper, empty: true };
	if (row.overflow === null) return { end: upper, empty: false };
	const overflow = Number(row.overflow);
	return { end: overflow > Number(row.first) ? overflow - 1 : overflow, empty: false };
}

/** The live rows of a table changed in the window: (table_name, record as JSON text, is_new for the client). */
function changedRecords(
	principal: Principal,
	plan: TablePlan,
	lastPulledAt: number | null,
	timestamp: number,
): SQL {
	const { table } = plan;
	const record = recordJson(table);
	const isNew =
		plan.empty || lastPulledAt === null ? sql`true` : newToClient(table, plan, principal, lastPulledAt);
	const where = sql`${rowsOf(table, principal)} and ${windowOf("r.sync_changed_ms", plan.lower, timestamp)} and ${live(table)}`;
	const query = sql`select ${table.name}::text as table_name, ${record} as record, ${isNew} as is_new
		from ${sql.raw(table.source)} r where ${where}`;
	if (table.name !== "notification_settings" || plan.lower !== null) return query;
	// Every user has settings: until they are first saved, the client gets the defaults to edit.
	return sql`${query} union all select ${table.name}::text, ${record}, true
		from (${notificationSettingsDefaults(principal.id)}) r
		where not exists (select 1 from notification_settings s where s.user_id = r.user_id)`;
}

/**
 * Whether the client cannot hold the row yet: created after its last pull (or, while it fills an empty
 * database page by page, simply not sent yet), or (reference data) outside the principal's view at some point
 * since, i.e. moved into its scope. A row the client pushed itself is never new to it: its echo comes back as
 * updated (the pusher's next pull starts from the very `lastPulledAt` it pushed with), so WatermelonDB never
 * recreates a record the user deleted on the device in between.
 */
function newToClient(table: SyncTable, plan: TablePlan, principal: Principal, lastPulledAt: number): SQL {
	const created = plan.fillingUp ? sql`true` : sql`r.sync_created_ms > ${lastPulledAt}`;
	if (table.kind === "owned") {
		return sql`(${created} and r.sync_origin_ms is distinct from ${lastPulledAt})`;
	}
	if (plan.fillingUp) return sql`true`;
	return sql`(${created} or exists (
		select 1 from sync_tombstones t
		where t.table_name = ${table.name} and t.row_id = ${sql.raw(table.tombstoneKey)} and t.reason = 'scope_changed'
			and t.changed_ms > ${lastPulledAt} and not ${tombstonesOf(table, principal)}
	))`;
}

/**
 * Ids the client must delete: soft-deleted rows and tombstones in the window that the principal could see,
 * unless the row is (again) live and visible now, in which case the client keeps or receives it.
 */
function deletedIds(principal: Principal, plan: TablePlan, timestamp: number): SQL {
	const { table } = plan;
	const window = windowOf("t.changed_ms", plan.lower, timestamp);
	const queries: SQL[] = [
		sql`select ${table.name}::text as table_name, ${sql.raw(table.tombstoneId)} as id from sync_tombstones t
			where t.table_name = ${table.name} and ${tombstonesOf(table, principal)} and ${window}
				and not exists (
					select 1 from ${sql.raw(table.source)} r
					where ${sql.raw(table.tombstoneKey)} = t.row_id and ${rowsOf(table, principal)} and ${live(table)}
				)`,
	];
	if (table.kind === "reference" && table.softDeleted) {
		queries.push(
			sql`select ${table.name}::text, ${sql.raw(table.id)} from ${sql.raw(table.source)} r
				where ${sql.raw(table.softDeleted)} and ${rowsOf(table, principal)} and ${windowOf("r.sync_changed_ms", plan.lower, timestamp)}`,
		);
	}
	return sql.join(queries, sql` union `);
}

/** The record as JSON text, built from the row alias `r`: `{"id":...,"<column>":...}`. */
function recordJson(table: SyncTable): SQL {
	const fields = [`${table.id} as "id"`, ...table.columns.map((c) => `${c.sql} as "${c.name}"`)];
	// row_to_json writes compact JSON (json_build_object pads every key with spaces), in column order.
	return sql.raw(`(select row_to_json(x) from (select ${fields.join(", ")}) x)::text`);
}

/**
 * A notification settings row with the table's defaults (workers/db/schema/notifications.ts), for a user who
 * has never saved settings. Stamped 0: it has never changed.
 */
function notificationSettingsDefaults(userId: string): SQL {
	return sql`select ${userId}::text as user_id, true as enabled, '{}'::text[] as sectors, '{}'::text[] as regions,
		'{}'::text[] as nations, ${sql.param([...NOTIFICATION_CATEGORIES])}::text[] as categories,
		to_timestamp(0) as updated_at, 0::bigint as sync_created_ms, 0::bigint as sync_changed_ms,
		null::bigint as sync_origin_ms`;
}
