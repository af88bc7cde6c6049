/**
 * The covenant contribution rule: what a nation pays into the common fund each year.
 *
 * Pure module (no Node or Workers APIs): the worker, the seed builder and the seed validator all import it,
 * so the stored `contribution_rate_ppm` / `annual_contribution_cents` can always be recomputed and checked.
 */

export const COVENANT_STATUSES = ["candidate", "active", "suspended", "withdrawn"] as const;

export type CovenantStatus = (typeof COVENANT_STATUSES)[number];

/** Parts per million: a rate of 95 ppm is 0.0095 % of GDP. */
const PPM = 1_000_000n;

/** GDP from which the standard rate applies: USD 100 billion, in cents. */
export const LARGE_ECONOMY_GDP_CENTS = 10_000_000_000_000;
/** GDP from which the middle rate applies: USD 10 billion, in cents. */
export const MIDDLE_ECONOMY_GDP_CENTS = 1_000_000_000_000;

/** Rate for economies of USD 100 billion and more. */
export const STANDARD_RATE_PPM = 95;
/** Rate for economies from USD 10 billion up to USD 100 billion. */
export const MIDDLE_RATE_PPM = 70;
/** Rate for economies under USD 10 billion. */
export const SMALL_RATE_PPM = 50;

/** Floor on any contribution owed: USD 10,000. */
export const MIN_CONTRIBUTION_CENTS = 1_000_000;
/** Ceiling on any contribution owed: USD 2.5 billion. */
export const MAX_CONTRIBUTION_CENTS = 250_000_000_000;
/** What a nation without a published GDP figure owes: the floor. */
export const FALLBACK_CONTRIBUTION_CENTS = MIN_CONTRIBUTION_CENTS;

/**
 * The seed's Phase 1: the 56 largest economies contributed USD 9.394 billion in total. The standard rate is
 * calibrated against it: the 56 largest economies by their latest World Bank GDP (2023 for most) have a
 * combined GDP of about USD 99.3 trillion, so 9.394 billion is 94.6 ppm of it; rounded up to 95 ppm they
 * would pay USD 9,437,421,180.56, and the ceiling on the United States brings the total to
 * USD 9,338,132,355.56, 0.6 % below the seed's figure.
 */
export const PHASE_1_NATIONS = 56;
export const PHASE_1_SEED_TOTAL_CENTS = 939_400_000_000;

export type ContributionBasis = "gdp" | "fallback" | "none";

export interface Contribution {
	/** The rate the nation is assessed at, in parts per million of GDP; 0 when it has no GDP figure. */
	rate_ppm: number;
	/** Integer USD cents owed per year; 0 unless the nation is active. */
	annual_contribution_cents: number;
	/** "gdp": computed from GDP; "fallback": no GDP figure, the fallback applies; "none": nothing is owed. */
	basis: ContributionBasis;
}

/** What an active nation owes: a Contribution whose basis is never "none". */
export interface Assessment extends Contribution {
	basis: "gdp" | "fallback";
}

export interface ContributionInput {
	/** Latest GDP in integer USD cents (current USD), or null where no figure is published. */
	gdp_cents: number | null;
	/** The year of that GDP figure; present exactly when gdp_cents is. */
	gdp_year: number | null;
	covenant_status: CovenantStatus;
}

/**
 * The rate band for a GDP: 95 ppm from USD 100 billion, 70 ppm from USD 10 billion, 50 ppm below.
 * The whole GDP is assessed at its band's rate (bands are not marginal), so one nation has one rate that
 * anyone can check against `annual = floor(gdp × rate / 10^6)`. Crossing a band threshold therefore raises the
 * contribution by a step, at most (95 − 70) ppm × USD 100 billion = USD 2.5 million.
 */
export function ratePpmForGdp(gdpCents: number): number {
	assertCents(gdpCents, "gdp_cents");
	if (gdpCents >= LARGE_ECONOMY_GDP_CENTS) return STANDARD_RATE_PPM;
	if (gdpCents >= MIDDLE_ECONOMY_GDP_CENTS) return MIDDLE_RATE_PPM;
	return SMALL_RATE_PPM;
}

/**
 * What a nation would owe as an active member, whatever its current status: the amount a candidate is
 * shown before accession.
 *
 * - With a GDP figure: floor(gdp_cents × rate_ppm / 1,000,000), then clamped to
 *   [MIN_CONTRIBUTION_CENTS, MAX_CONTRIBUTION_CENTS]. The product is taken in BigInt because GDP × rate
 *   passes 2^53 for every economy above about USD 950 billion; the division floors (truncation of a
 *   non-negative value), so a nation is never assessed a fraction of a cent it does not owe and the result
 *   is an exact integer.
 * - Without one (the World Bank publishes none for North Korea or the Holy See): the fallback, the minimum
 *   contribution, with rate 0 because no rate was applied. Numbers are never invented for a missing GDP.
 *
 * The GDP figure is used whatever its year: the covenant assesses on the latest published figure, and
 * stores its year beside it (gdp_year) so that a stale one (Venezuela's is from 2014) stays visible.
 */
export function assessContribution(gdpCents: number | null): Assessment {
	if (gdpCents === null) {
		return { rate_ppm: 0, annual_contribution_cents: FALLBACK_CONTRIBUTION_CENTS, basis: "fallback" };
	}
	const ratePpm = ratePpmForGdp(gdpCents);
	const proportional = (BigInt(gdpCents) * BigInt(ratePpm)) / PPM;
	const clamped =
		proportional < BigInt(MIN_CONTRIBUTION_CENTS)
			? MIN_CONTRIBUTION_CENTS
			: proportional > BigInt(MAX_CONTRIBUTION_CENTS)
				? MAX_CONTRIBUTION_CENTS
				: Number(proportional);
	return { rate_ppm: ratePpm, annual_contribution_cents: clamped, basis: "gdp" };
}

/**
 * The covenant contribution rule.
 *
 * 1. Only `active` nations owe a contribution. Candidates, suspended and withdrawn nations owe 0 with basis
 *    "none"; their `rate_ppm` still shows the rate they are assessed at, so a candidate's page can show
 *    what accession would cost (`assessContribution` gives the amount).
 * 2. An active nation with a GDP figure owes its band's rate (see `ratePpmForGdp`) of that GDP, in parts per
 *    million, rounded down to the cent: 95 ppm (0.0095 %) from USD 100 billion, 70 ppm from USD 10 billion,
 *    50 ppm below.
 * 3. The amount is never below MIN_CONTRIBUTION_CENTS (USD 10,000), so every active member holds a real
 *    stake however small its economy (the floor binds below USD 200 million of GDP: Tuvalu and Nauru
 *    today), and never above MAX_CONTRIBUTION_CENTS (USD 2.5 billion), so that no one nation carries much
 *    more than a quarter of the Phase 1 fund (only the United States reaches the ceiling).
 * 4. An active nation without a GDP figure owes FALLBACK_CONTRIBUTION_CENTS, the minimum, with basis
 *    "fallback" and rate 0.
 *
 * Money in and out is integer USD cents (safe integers); invalid input throws rather than being coerced.
 * Relation to the seed: with the 56 largest economies active (Phase 1) the rule yields USD 9,338,132,355.56
 * a year against the seed's USD 9.394 billion (see PHASE_1_SEED_TOTAL_CENTS).
 */
export function contributionFor(input: ContributionInput): Contribution {
	const { gdp_cents, gdp_year, covenant_status } = input;
	if (!(COVENANT_STATUSES as readonly string[]).includes(covenant_status)) {
		throw new RangeError(`unknown covenant status ${JSON.stringify(covenant_status)}`);
	}
	if ((gdp_cents === null) !== (gdp_year === null)) {
		throw new RangeError("gdp_year must be present exactly when gdp_cents is");
	}
	if (gdp_year !== null && !Number.isSafeInteger(gdp_year)) {
		throw new RangeError(`gdp_year must be an integer year, got ${gdp_year}`);
	}
	const assessed = assessContribution(gdp_cents);
	if (covenant_status !== "active") {
		return { rate_ppm: assessed.rate_ppm, annual_contribution_cents: 0, basis: "none" };
	}
	return assessed;
}

function assertCents(value: number, field: string): void {
	if (!Number.isSafeInteger(value) || value < 0) {
		throw new RangeError(`${field} must be a non-negative safe integer number of cents, got ${value}`);
	}
}
