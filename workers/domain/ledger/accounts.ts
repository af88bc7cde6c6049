/**
 * The chart of accounts every nation's ledger carries, the transfer kinds, and which account pairs each kind may
 * move money between. Pure data and functions: the Durable Object, the HTTP routes, the tests and a future
 * verifier all read the same rules.
 *
 * The books are the nation's covenant books, seen from the nation's side: assets and expenses grow with debits,
 * liabilities, equity and income grow with credits. Every account but `national_funding` carries a
 * TigerBeetle-style balance constraint, checked atomically with each transfer (pending holds included), so no
 * transfer, batch, post or reversal can ever leave a constrained account beyond its bound.
 */

export const ACCOUNT_CODES = [
	"treasury",
	"distributions_receivable",
	"contributions_payable",
	"national_funding",
	"distributions_received",
	"fund_contributions",
	"disbursements",
] as const;
export type AccountCode = (typeof ACCOUNT_CODES)[number];

export type AccountClass = "asset" | "liability" | "equity" | "income" | "expense";
export type NormalBalance = "debit" | "credit";

/**
 * - `debits_must_not_exceed_credits`: debits_pending + debits_posted <= credits_posted (a credit-normal account
 *   never goes below zero).
 * - `credits_must_not_exceed_debits`: credits_pending + credits_posted <= debits_posted (a debit-normal account
 *   never goes below zero).
 * - `none`: the boundary with the world outside the ledger.
 */
export type BalanceConstraint = "debits_must_not_exceed_credits" | "credits_must_not_exceed_debits" | "none";

export interface AccountDefinition {
	code: AccountCode;
	/** A stable number for reports, in the usual ranges (1xxx assets ... 5xxx expenses). */
	number: number;
	name: string;
	class: AccountClass;
	normal_balance: NormalBalance;
	constraint: BalanceConstraint;
	description: string;
}

export const CHART_OF_ACCOUNTS: readonly AccountDefinition[] = [
	{
		code: "treasury",
		number: 1000,
		name: "Treasury",
		class: "asset",
		normal_balance: "debit",
		constraint: "credits_must_not_exceed_debits",
		description: "The nation's covenant cash. Can never be overdrawn.",
	},
	{
		code: "distributions_receivable",
		number: 1100,
		name: "Distributions receivable",
		class: "asset",
		normal_balance: "debit",
		constraint: "credits_must_not_exceed_debits",
		description: "Profit distributions declared to the nation and not yet paid out to its treasury.",
	},
	{
		code: "contributions_payable",
		number: 2000,
		name: "Contributions payable",
		class: "liability",
		normal_balance: "credit",
		constraint: "debits_must_not_exceed_credits",
		description:
			"Contributions assessed and not yet paid (the fund's contributions receivable from this nation). A nation cannot pay more than it was assessed through it.",
	},
	{
		code: "national_funding",
		number: 3000,
		name: "National funding",
		class: "equity",
		normal_balance: "credit",
		constraint: "none",
		description:
			"Money the nation brings into (or takes back out of) its covenant books from its own budget: the ledger's boundary with the outside world, and the only unconstrained account.",
	},
	{
		code: "distributions_received",
		number: 4000,
		name: "Distributions received",
		class: "income",
		normal_balance: "credit",
		constraint: "debits_must_not_exceed_credits",
		description: "Project profits distributed to the nation (declared or paid).",
	},
	{
		code: "fund_contributions",
		number: 5000,
		name: "Contributions to the fund",
		class: "expense",
		normal_balance: "debit",
		constraint: "credits_must_not_exceed_debits",
		description:
			"The nation's contributions to the covenant fund (assessed or paid directly): its stake, by which distributions are weighted.",
	},
	{
		code: "disbursements",
		number: 5100,
		name: "Disbursements",
		class: "expense",
		normal_balance: "debit",
		constraint: "credits_must_not_exceed_debits",
		description: "Covenant money the nation has disbursed from its treasury to projects.",
	},
];

export const ACCOUNTS: Readonly<Record<AccountCode, AccountDefinition>> = Object.fromEntries(
	CHART_OF_ACCOUNTS.map((a) => [a.code, a]),
) as Record<AccountCode, AccountDefinition>;

export function isAccountCode(value: unknown): value is AccountCode {
	return typeof value === "string" && (ACCOUNT_CODES as readonly string[]).includes(value);
}

/** Every kind an entry can have. `reversal` is only ever created by reversing a posted transfer. */
export const TRANSFER_KINDS = [
	"contribution",
	"distribution",
	"disbursement",
	"adjustment",
	"reversal",
] as const;
export type TransferKind = (typeof TRANSFER_KINDS)[number];

/** The kinds a client may create directly. */
export const CREATABLE_KINDS = ["contribution", "distribution", "disbursement", "adjustment"] as const;
export type CreatableKind = (typeof CREATABLE_KINDS)[number];

export interface AccountPair {
	debit: AccountCode;
	credit: AccountCode;
	/** What moving money this way means. */
	meaning: string;
}

/**
 * Which (debit, credit) pairs each creatable kind allows. A pair outside this table is refused, so the kind of an
 * entry always tells what happened. Reversals swap the pair of the transfer they reverse.
 */
export const KIND_PAIRS: Readonly<Record<CreatableKind, readonly AccountPair[]>> = {
	contribution: [
		{ debit: "fund_contributions", credit: "contributions_payable", meaning: "assess a contribution" },
		{ debit: "contributions_payable", credit: "treasury", meaning: "pay an assessed contribution" },
		{ debit: "fund_contributions", credit: "treasury", meaning: "contribute directly, without assessment" },
	],
	distribution: [
		{
			debit: "distributions_receivable",
			credit: "distributions_received",
			meaning: "declare a distribution",
		},
		{ debit: "treasury", credit: "distributions_receivable", meaning: "receive a declared distribution" },
		{ debit: "treasury", credit: "distributions_received", meaning: "receive a distribution directly" },
	],
	disbursement: [{ debit: "disbursements", credit: "treasury", meaning: "disburse to a project" }],
	adjustment: [
		{ debit: "treasury", credit: "national_funding", meaning: "fund the treasury from the national budget" },
		{
			debit: "national_funding",
			credit: "treasury",
			meaning: "return treasury money to the national budget",
		},
		{
			debit: "national_funding",
			credit: "contributions_payable",
			meaning: "open a contributions-payable balance",
		},
		{
			debit: "distributions_receivable",
			credit: "national_funding",
			meaning: "open a distributions-receivable balance",
		},
	],
};

export function isPairAllowed(kind: CreatableKind, debit: AccountCode, credit: AccountCode): boolean {
	return KIND_PAIRS[kind].some((p) => p.debit === debit && p.credit === credit);
}

export function describeAllowedPairs(kind: CreatableKind): string {
	return KIND_PAIRS[kind].map((p) => `${p.debit} <- ${p.credit}`).join(", ");
}
