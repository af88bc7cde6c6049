import { z } from "zod";

/**
 * Covenant periods. Contributions are assessed once a year under the contribution rule
 * (workers/domain/contribution.ts), so a period is a calendar year written `YYYY`; a distribution names the year
 * whose paid contributions weigh it. Years outside 2000-2999 are refused as typos rather than scheduled.
 */
export const MIN_PERIOD_YEAR = 2000;
export const MAX_PERIOD_YEAR = 2999;

export const Period = z
	.string({ error: "expected a period: a calendar year written YYYY, e.g. 2026" })
	.regex(/^\d{4}$/, {
		error:
			"expected a period: a calendar year written YYYY, e.g. 2026 (quarters and months are not contribution periods)",
	})
	.refine((value) => Number(value) >= MIN_PERIOD_YEAR && Number(value) <= MAX_PERIOD_YEAR, {
		error: `expected a year from ${MIN_PERIOD_YEAR} to ${MAX_PERIOD_YEAR}`,
	});
export type Period = z.infer<typeof Period>;

export function periodYear(period: Period): number {
	return Number(period);
}

/**
 * The ledger periods (entry `reference.period`) that belong to a contribution period: the year itself and its
 * quarters and months (`2026`, `2026-Q3`, `2026-07`), so a nation paying in instalments labelled by quarter or
 * month still pays its year's contribution.
 */
export function belongsToPeriod(ledgerPeriod: string | null, period: Period): boolean {
	if (ledgerPeriod === null) return false;
	return ledgerPeriod === period || ledgerPeriod.startsWith(`${period}-`);
}
