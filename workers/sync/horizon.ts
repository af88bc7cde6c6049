import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";

/**
 * Where a pull may safely stop.
 *
 * Every synced row carries `sync_changed_ms`, stamped by a trigger from `clock_timestamp()` at the moment the
 * row is written (after the trigger has forced the writing transaction to take an xid). A row becomes visible
 * only when its transaction commits, which can be long after the stamp: a pull that answered "everything up
 * to now" could later see a row committed with an older stamp, and every client would miss it forever.
 *
 * So a pull only ever answers up to the horizon: one millisecond before the earliest moment any transaction
 * still in flight can have stamped a row. That moment is bounded by `pg_stat_activity.xact_start` of every
 * backend that holds an xid (a transaction without an xid has written nothing yet, and whatever it writes will
 * be stamped after this statement started). Read BEFORE the pull's snapshot is taken, this guarantees:
 * - every row stamped at or before the horizon was committed before the snapshot (so the pull sees it), and
 * - every row the snapshot does not see is stamped after the horizon (so the next pull, which starts from the
 *   horizon, sends it).
 * Nothing is missed, and nothing is sent twice. A long-running write transaction holds the horizon back (its
 * changes, and everything after them, wait until it ends); it never loses anything.
 *
 * `xact_start` of another role's backend is only visible with `pg_read_all_stats`. When an xid-holding backend
 * hides it, nothing safe can be said about when it started writing, so the horizon does not advance (`safeMs`
 * is null) until that transaction ends; `docs/sync.md` says to grant the worker's role `pg_read_all_stats`.
 */
export interface Horizon {
	/** The database's clock when the horizon was read. */
	nowMs: number;
	/** The latest stamp a pull may include, or null when an invisible writer makes it unknowable right now. */
	safeMs: number | null;
	/** Writers (other backends holding an xid) whose start is hidden from this role. */
	hiddenWriters: number;
}

/**
 * Reads the horizon. MUST run as its own statement before the pull's REPEATABLE READ transaction takes its
 * snapshot: `statement_timestamp()` is fixed when the statement starts, before pg_stat_activity is read.
 */
export async function readHorizon(db: Database): Promise<Horizon> {
	const result = await db.execute<{
		now_ms: number;
		oldest_writer_ms: number | null;
		hidden_writers: number;
	}>(sql`
		select
			floor(extract(epoch from statement_timestamp()) * 1000)::float8 as now_ms,
			floor(extract(epoch from min(a.xact_start)) * 1000)::float8 as oldest_writer_ms,
			count(*) filter (where a.xact_start is null)::int as hidden_writers
		from pg_stat_activity a
		where a.backend_xid is not null
			and a.pid <> pg_backend_pid()
			and a.datname = current_database()
	`);
	const row = result.rows[0];
	if (!row) throw new Error("pg_stat_activity answered no row");
	const nowMs = Number(row.now_ms);
	const hiddenWriters = Number(row.hidden_writers);
	if (hiddenWriters > 0) {
		console.warn(
			JSON.stringify({
				msg: "sync horizon held: a writing transaction's start is hidden from this role (grant pg_read_all_stats)",
				hiddenWriters,
			}),
		);
		return { nowMs, safeMs: null, hiddenWriters };
	}
	const oldest = row.oldest_writer_ms === null ? nowMs : Math.min(nowMs, Number(row.oldest_writer_ms));
	return { nowMs, safeMs: oldest - 1, hiddenWriters };
}
