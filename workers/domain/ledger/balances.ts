import { ACCOUNT_CODES, ACCOUNTS, type AccountCode } from "./accounts.ts";
import { canonicalHash } from "./canonical.ts";

/** An account's four running totals, in integer cents (TigerBeetle's layout). */
export interface AccountBalance {
	debits_pending: number;
	debits_posted: number;
	credits_pending: number;
	credits_posted: number;
}

export type BalanceSheet = Record<AccountCode, AccountBalance>;

export function emptyBalanceSheet(): BalanceSheet {
	return Object.fromEntries(
		ACCOUNT_CODES.map((code) => [
			code,
			{ debits_pending: 0, debits_posted: 0, credits_pending: 0, credits_posted: 0 },
		]),
	) as BalanceSheet;
}

export function cloneBalanceSheet(sheet: BalanceSheet): BalanceSheet {
	return Object.fromEntries(ACCOUNT_CODES.map((code) => [code, { ...sheet[code] }])) as BalanceSheet;
}

/** Why a movement was refused; the names follow TigerBeetle's result codes. */
export type BalanceRefusal = "exceeds_credits" | "exceeds_debits" | "overflows_debits" | "overflows_credits";

/**
 * What a transfer does to the balances:
 * - `post`: moves `amount` (debits_posted / credits_posted);
 * - `reserve`: holds `amount` as pending (debits_pending / credits_pending), counted against the constraints;
 * - `post_pending`: releases a hold of `held` and posts `amount` (<= held) in its place;
 * - `release`: releases a hold of `held` (void or expiry).
 */
export type Movement =
	| { effect: "post" | "reserve"; debit: AccountCode; credit: AccountCode; amount: number }
	| { effect: "post_pending"; debit: AccountCode; credit: AccountCode; amount: number; held: number }
	| { effect: "release"; debit: AccountCode; credit: AccountCode; held: number };

const MAX = Number.MAX_SAFE_INTEGER;

/**
 * Checks a movement against both accounts' constraints and, if it is allowed, applies it to `sheet` in place.
 * Returns the refusal otherwise, leaving `sheet` untouched. Callers work on a copy and keep it only when a whole
 * request succeeded, which is what makes batches all-or-nothing.
 */
export function applyMovement(sheet: BalanceSheet, movement: Movement): BalanceRefusal | null {
	const debit = sheet[movement.debit];
	const credit = sheet[movement.credit];
	switch (movement.effect) {
		case "reserve":
		case "post": {
			const { amount } = movement;
			if (
				debit.debits_pending > MAX - amount ||
				debit.debits_posted > MAX - amount ||
				debit.debits_pending + debit.debits_posted > MAX - amount
			) {
				return "overflows_debits";
			}
			if (
				credit.credits_pending > MAX - amount ||
				credit.credits_posted > MAX - amount ||
				credit.credits_pending + credit.credits_posted > MAX - amount
			) {
				return "overflows_credits";
			}
			if (
				ACCOUNTS[movement.debit].constraint === "debits_must_not_exceed_credits" &&
				debit.debits_pending + debit.debits_posted + amount > debit.credits_posted
			) {
				return "exceeds_credits";
			}
			if (
				ACCOUNTS[movement.credit].constraint === "credits_must_not_exceed_debits" &&
				credit.credits_pending + credit.credits_posted + amount > credit.debits_posted
			) {
				return "exceeds_debits";
			}
			if (movement.effect === "post") {
				debit.debits_posted += amount;
				credit.credits_posted += amount;
			} else {
				debit.debits_pending += amount;
				credit.credits_pending += amount;
			}
			return null;
		}
		case "post_pending": {
			// The posted amount replaces part or all of a hold that already passed the constraints, so the bounds
			// still hold; only the totals can overflow.
			if (debit.debits_posted > MAX - movement.amount) return "overflows_debits";
			if (credit.credits_posted > MAX - movement.amount) return "overflows_credits";
			debit.debits_pending -= movement.held;
			credit.credits_pending -= movement.held;
			debit.debits_posted += movement.amount;
			credit.credits_posted += movement.amount;
			return null;
		}
		case "release":
			debit.debits_pending -= movement.held;
			credit.credits_pending -= movement.held;
			return null;
	}
}

/** The posted balance on the account's normal side (what an accountant calls its balance). */
export function postedBalance(code: AccountCode, b: AccountBalance): number {
	return ACCOUNTS[code].normal_balance === "debit"
		? b.debits_posted - b.credits_posted
		: b.credits_posted - b.debits_posted;
}

/** The posted balance less the holds that would reduce it: what can still be moved out of the account. */
export function availableBalance(code: AccountCode, b: AccountBalance): number {
	return ACCOUNTS[code].normal_balance === "debit"
		? b.debits_posted - b.credits_posted - b.credits_pending
		: b.credits_posted - b.debits_posted - b.debits_pending;
}

/** Whether every constrained account is within its bound (an invariant; a violation is a bug, never data). */
export function constraintViolations(sheet: BalanceSheet): AccountCode[] {
	return ACCOUNT_CODES.filter((code) => {
		const b = sheet[code];
		const constraint = ACCOUNTS[code].constraint;
		if (constraint === "debits_must_not_exceed_credits")
			return b.debits_pending + b.debits_posted > b.credits_posted;
		if (constraint === "credits_must_not_exceed_debits")
			return b.credits_pending + b.credits_posted > b.debits_posted;
		return false;
	});
}

/**
 * SHA-256 of the canonical encoding of every account's four totals, `{"<account>":{"credits_pending":"0",...}}`:
 * two parties holding the same balances compute the same digest without exchanging them.
 */
export function balancesDigest(sheet: BalanceSheet): string {
	return canonicalHash(
		Object.fromEntries(
			ACCOUNT_CODES.map((code) => [
				code,
				{
					debits_pending: sheet[code].debits_pending,
					debits_posted: sheet[code].debits_posted,
					credits_pending: sheet[code].credits_pending,
					credits_posted: sheet[code].credits_posted,
				},
			]),
		),
	);
}
