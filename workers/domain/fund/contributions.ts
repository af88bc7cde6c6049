import type { Period } from "./period.ts";

/**
 * Contribution schedules: when a period's contribution falls due and what state it is in.
 *
 * Due date: a year's contribution is due by 31 March of that year; a schedule created later than 30 days before
 * that (or for a past year) gives every nation 30 days from the day it was scheduled instead, so no nation is
 * overdue on a bill it received yesterday. An administrator may set another due date when scheduling.
 *
 * Status, per nation and period: `paid` once the payments for the period reach the amount assessed; otherwise
 * `overdue` from the day after the due date (UTC), `due` until then.
 */
export const PAYMENT_GRACE_DAYS = 30;
export const CONTRIBUTION_STATUSES = ["due", "paid", "overdue"] as const;
export type ContributionStatus = (typeof CONTRIBUTION_STATUSES)[number];

const DAY_MS = 86_400_000;

/** A calendar date `YYYY-MM-DD` (UTC) of an instant. */
export function utcDate(ms: number): string {
	return new Date(ms).toISOString().slice(0, 10);
}

/** The default due date of a period's contribution, for a schedule created at `scheduledAtMs`. */
export function defaultDueDate(period: Period, scheduledAtMs: number): string {
	const endOfMarch = `${period}-03-31`;
	const grace = utcDate(scheduledAtMs + PAYMENT_GRACE_DAYS * DAY_MS);
	return grace > endOfMarch ? grace : endOfMarch;
}

export function contributionStatus(input: {
	amountDueCents: number;
	paidCents: number;
	dueDate: string;
	today: string;
}): ContributionStatus {
	if (input.paidCents >= input.amountDueCents) return "paid";
	return input.today > input.dueDate ? "overdue" : "due";
}

/** The ledger transfer id of a nation's assessment for a period: one per (period, nation), forever. */
export function assessmentTransferId(period: Period, iso2: string): string {
	return `contribution.${period}.${iso2}`;
}
