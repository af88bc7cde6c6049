import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";

/**
 * The ledger projection's part of /v1/health, read from Postgres (`ledger_projection_state`, one row per nation,
 * written by each ledger's outbox drain) rather than by asking 195 ledger objects. It shows how late the latest
 * drains were; a ledger whose drains keep failing shows its own lag in GET /v1/nations/{code}/ledger.
 */
export const LedgerProjectionHealthSchema = z
	.object({
		nations: z
			.number()
			.int()
			.openapi({ description: "Nations whose ledger has projected at least one entry" }),
		max_lag_ms: z.number().int().openapi({
			description:
				"The largest lag of any nation's last drain: its oldest entry's time from ledger to Postgres",
		}),
		max_lag_nation: z.string().nullable(),
		backlog_entries: z.number().int().openapi({
			description: "Entries the ledgers still held unprojected when their last drains ran, summed",
		}),
		last_projected_at: z.string().nullable(),
	})
	.openapi("LedgerProjectionHealth");
export type LedgerProjectionHealth = z.infer<typeof LedgerProjectionHealthSchema>;

export async function ledgerProjectionHealth(db: Database): Promise<LedgerProjectionHealth> {
	const result = await db.execute<{
		nations: number;
		max_lag_ms: number;
		max_lag_nation: string | null;
		backlog_entries: number;
		last_projected_at: string | null;
	}>(sql`
		select count(*)::int as nations,
			coalesce(max(last_lag_ms), 0)::int as max_lag_ms,
			(array_agg(nation_iso2 order by last_lag_ms desc))[1] as max_lag_nation,
			coalesce(sum(backlog_entries), 0)::int as backlog_entries,
			to_char(max(projected_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_projected_at
		from ledger_projection_state`);
	const row = result.rows[0];
	return {
		nations: row?.nations ?? 0,
		max_lag_ms: row?.max_lag_ms ?? 0,
		max_lag_nation: row?.max_lag_nation ?? null,
		backlog_entries: row?.backlog_entries ?? 0,
		last_projected_at: row?.last_projected_at ?? null,
	};
}
