import { type SQL, sql } from "drizzle-orm";
import type { Queryable } from "../../db/queries/pagination.ts";
import type { Period } from "../../domain/fund/period.ts";

/**
 * Reads of the fund from the ledgers' Postgres projection (ledger_entries), shared by the fund view, the
 * contribution list and distribution planning. What each flow counts (docs/fund.md), from the nations' books:
 *
 * - contributed: contributions paid out of a treasury (contributions_payable <- treasury, or fund_contributions
 *   <- treasury), less their reversals;
 * - assessed: contributions assessed (fund_contributions <- contributions_payable), less their reversals;
 * - distributed: distributions credited to distributions_received (declared or paid at once), less reversals;
 * - disbursed: disbursements to projects (disbursements <- treasury), less reversals.
 *
 * Only posted money counts: single entries and the `post` phase of two-phase transfers, never pending holds.
 * A reversal swaps its original's accounts, so its account pair alone tells which flow it undoes.
 */
const POSTED = sql.raw(`le.phase in ('single', 'post')`);

export const CONTRIBUTED = sql`case
	when le.kind = 'contribution' and le.credit_account = 'treasury' and ${POSTED} then le.amount_cents
	when le.kind = 'reversal' and le.debit_account = 'treasury' and le.credit_account in ('contributions_payable', 'fund_contributions') then -le.amount_cents
	else 0 end`;
const ASSESSED = sql`case
	when le.kind = 'contribution' and le.debit_account = 'fund_contributions' and le.credit_account = 'contributions_payable' and ${POSTED} then le.amount_cents
	when le.kind = 'reversal' and le.debit_account = 'contributions_payable' and le.credit_account = 'fund_contributions' then -le.amount_cents
	else 0 end`;
const DISTRIBUTED = sql`case
	when le.kind = 'distribution' and le.credit_account = 'distributions_received' and ${POSTED} then le.amount_cents
	when le.kind = 'reversal' and le.debit_account = 'distributions_received' then -le.amount_cents
	else 0 end`;
const DISBURSED = sql`case
	when le.kind = 'disbursement' and le.debit_account = 'disbursements' and ${POSTED} then le.amount_cents
	when le.kind = 'reversal' and le.credit_account = 'disbursements' then -le.amount_cents
	else 0 end`;

/** Entries that belong to a contribution year: the year and its quarters and months (see period.ts). */
export function inPeriod(period: Period): SQL {
	return sql`(le.period = ${period} or le.period like ${`${period}-%`})`;
}

/** Postgres sums bigints into numerics; money leaves as a safe integer or not at all. */
function cents(value: string | number | null | undefined): number {
	const n = Number(value ?? 0);
	if (!Number.isSafeInteger(n)) throw new Error(`a fund total (${value}) is beyond 2^53 − 1 cents`);
	return n;
}

export interface PaidContribution {
	nation: string;
	paid_cents: number;
	/** The time of the latest payment counted, ISO; null when nothing was paid. */
	last_paid_at: string | null;
}

/** Contributions paid per nation for a period (nations that paid nothing net are left out). */
export async function paidContributions(db: Queryable, period: Period): Promise<PaidContribution[]> {
	const result = await db.execute<{ nation: string; paid: string; last_paid_at: string | null }>(sql`
		select le.nation_iso2 as nation, sum(${CONTRIBUTED})::text as paid,
			to_char(max(le.recorded_at) filter (where (${CONTRIBUTED}) > 0) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_paid_at
		from ledger_entries le
		where ${inPeriod(period)} and (le.kind = 'contribution' or le.kind = 'reversal')
		group by le.nation_iso2
		having sum(${CONTRIBUTED}) > 0
		order by le.nation_iso2`);
	return result.rows.map((row) => ({
		nation: row.nation,
		paid_cents: cents(row.paid),
		last_paid_at: row.last_paid_at,
	}));
}

export interface FundTotals {
	contributed_cents: number;
	assessed_cents: number;
	distributed_cents: number;
	disbursed_cents: number;
}

export interface FundBreakdown {
	overall: FundTotals;
	by_region: Map<string, FundTotals>;
	by_sector: Map<string, FundTotals>;
}

/** The four flows overall, per serving region of the nation whose books they are in, and per project sector. */
export async function fundTotals(db: Queryable, period: Period | undefined): Promise<FundBreakdown> {
	const where = period === undefined ? sql`true` : inPeriod(period);
	const result = await db.execute<{
		by_region: number;
		by_sector: number;
		serving_region: string | null;
		sector: string | null;
		contributed: string;
		assessed: string;
		distributed: string;
		disbursed: string;
	}>(sql`
		with flows as (
			select n.serving_region, p.sector,
				${CONTRIBUTED} as contributed, ${ASSESSED} as assessed, ${DISTRIBUTED} as distributed, ${DISBURSED} as disbursed
			from ledger_entries le
			join nations n on n.iso2 = le.nation_iso2
			left join projects p on p.id = le.project_id
			where ${where}
		)
		select (grouping(serving_region) = 0)::int as by_region, (grouping(sector) = 0)::int as by_sector,
			serving_region, sector,
			coalesce(sum(contributed), 0)::text as contributed, coalesce(sum(assessed), 0)::text as assessed,
			coalesce(sum(distributed), 0)::text as distributed, coalesce(sum(disbursed), 0)::text as disbursed
		from flows
		group by grouping sets ((), (serving_region), (sector))`);
	const breakdown: FundBreakdown = { overall: emptyTotals(), by_region: new Map(), by_sector: new Map() };
	for (const row of result.rows) {
		const totals: FundTotals = {
			contributed_cents: cents(row.contributed),
			assessed_cents: cents(row.assessed),
			distributed_cents: cents(row.distributed),
			disbursed_cents: cents(row.disbursed),
		};
		if (Number(row.by_region) === 1 && row.serving_region !== null)
			breakdown.by_region.set(row.serving_region, totals);
		else if (Number(row.by_sector) === 1) {
			// Entries without a project (contributions, funding) have no sector: they count overall and per region only.
			if (row.sector !== null) breakdown.by_sector.set(row.sector, totals);
		} else breakdown.overall = totals;
	}
	return breakdown;
}

export function emptyTotals(): FundTotals {
	return { contributed_cents: 0, assessed_cents: 0, distributed_cents: 0, disbursed_cents: 0 };
}

export interface ProjectionCompleteness {
	/**
	 * Every entry recorded up to this time is in the projection, as far as can be told without asking the 195
	 * ledgers: the earliest point some ledger is known to be behind (its last drain left a backlog, or it has not
	 * projected an assessment or distribution share this service recorded on it), else the latest drain. Null
	 * when no ledger has projected anything yet.
	 */
	complete_through: string | null;
	/** Nations known to be behind. */
	lagging_nations: number;
	/** Nations whose ledger has projected at least one entry. */
	nations: number;
}

/** How far back distribution shares are checked against the projection (older ones have long been drained). */
const RECENT_SHARES = sql.raw(`interval '1 day'`);

export async function projectionCompleteness(db: Queryable): Promise<ProjectionCompleteness> {
	const iso = (column: string) =>
		sql.raw(`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
	const result = await db.execute<{
		nations: number;
		lagging: number;
		behind_since: string | null;
		last_projected_at: string | null;
	}>(sql`
		with known as (
			-- Entries this service wrote to ledgers itself, with a time no later than theirs.
			select nation_iso2, ledger_sequence as sequence, scheduled_at as since
			from contribution_schedules where ledger_sequence is not null
			union all
			select ds.nation_iso2, ds.ledger_sequence, ds.posted_at
			from distribution_shares ds join distributions d on d.id = ds.distribution_id
			where ds.ledger_sequence is not null and d.completed_at > now() - ${RECENT_SHARES}
		),
		behind as (
			select s.nation_iso2, h.recorded_at as since
			from ledger_projection_state s
			left join ledger_entries h on h.nation_iso2 = s.nation_iso2 and h.sequence = s.projected_sequence
			where s.backlog_entries > 0
			union all
			select k.nation_iso2, k.since
			from known k left join ledger_projection_state s on s.nation_iso2 = k.nation_iso2
			where s.projected_sequence is null or s.projected_sequence < k.sequence
		)
		select (select count(*) from ledger_projection_state)::int as nations,
			(select count(distinct nation_iso2) from behind)::int as lagging,
			(select ${iso("min(since)")} from behind) as behind_since,
			(select ${iso("max(projected_at)")} from ledger_projection_state) as last_projected_at`);
	const row = result.rows[0];
	const lagging = Number(row?.lagging ?? 0);
	return {
		complete_through: (lagging > 0 ? row?.behind_since : row?.last_projected_at) ?? null,
		lagging_nations: lagging,
		nations: Number(row?.nations ?? 0),
	};
}
