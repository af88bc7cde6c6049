import { describe, expect, it } from "vitest";
import { seedData } from "../../seeds/index.ts";
import type { NationSeed } from "../../seeds/schema.ts";
import {
	assessContribution,
	type ContributionInput,
	contributionFor,
	FALLBACK_CONTRIBUTION_CENTS,
	LARGE_ECONOMY_GDP_CENTS,
	MAX_CONTRIBUTION_CENTS,
	MIDDLE_ECONOMY_GDP_CENTS,
	MIDDLE_RATE_PPM,
	MIN_CONTRIBUTION_CENTS,
	PHASE_1_NATIONS,
	PHASE_1_SEED_TOTAL_CENTS,
	SMALL_RATE_PPM,
	STANDARD_RATE_PPM,
} from "../../workers/domain/contribution.ts";

const USD = 100;
const BILLION_USD = 1_000_000_000 * USD;

function active(gdpCents: number | null): ContributionInput {
	return { gdp_cents: gdpCents, gdp_year: gdpCents === null ? null : 2023, covenant_status: "active" };
}

describe("contributionFor", () => {
	it("charges an active nation its band's rate of GDP, in integer cents", () => {
		// USD 500 billion × 95 ppm = USD 47.5 million.
		expect(contributionFor(active(500 * BILLION_USD))).toEqual({
			rate_ppm: STANDARD_RATE_PPM,
			annual_contribution_cents: 47_500_000 * USD,
			basis: "gdp",
		});
		// USD 50 billion × 70 ppm = USD 3.5 million; USD 5 billion × 50 ppm = USD 250,000.
		expect(contributionFor(active(50 * BILLION_USD)).annual_contribution_cents).toBe(3_500_000 * USD);
		expect(contributionFor(active(5 * BILLION_USD)).annual_contribution_cents).toBe(250_000 * USD);
	});

	it("places the band thresholds exactly", () => {
		expect(contributionFor(active(LARGE_ECONOMY_GDP_CENTS)).rate_ppm).toBe(STANDARD_RATE_PPM);
		expect(contributionFor(active(LARGE_ECONOMY_GDP_CENTS - 1)).rate_ppm).toBe(MIDDLE_RATE_PPM);
		expect(contributionFor(active(MIDDLE_ECONOMY_GDP_CENTS)).rate_ppm).toBe(MIDDLE_RATE_PPM);
		expect(contributionFor(active(MIDDLE_ECONOMY_GDP_CENTS - 1)).rate_ppm).toBe(SMALL_RATE_PPM);
	});

	it("charges an active nation without GDP data the fallback, with rate 0", () => {
		expect(contributionFor(active(null))).toEqual({
			rate_ppm: 0,
			annual_contribution_cents: FALLBACK_CONTRIBUTION_CENTS,
			basis: "fallback",
		});
		expect(FALLBACK_CONTRIBUTION_CENTS).toBe(MIN_CONTRIBUTION_CENTS);
	});

	it("charges nothing to candidate, suspended and withdrawn nations, but still shows their rate", () => {
		for (const covenant_status of ["candidate", "suspended", "withdrawn"] as const) {
			expect(contributionFor({ gdp_cents: 500 * BILLION_USD, gdp_year: 2023, covenant_status })).toEqual({
				rate_ppm: STANDARD_RATE_PPM,
				annual_contribution_cents: 0,
				basis: "none",
			});
			expect(contributionFor({ gdp_cents: null, gdp_year: null, covenant_status })).toEqual({
				rate_ppm: 0,
				annual_contribution_cents: 0,
				basis: "none",
			});
		}
		// What a candidate would owe on accession.
		expect(assessContribution(500 * BILLION_USD).annual_contribution_cents).toBe(47_500_000 * USD);
	});

	it("rounds down to the cent, including exact halves", () => {
		// 21,052,631,578,947 × 95 / 10^6 = 1,999,999,999.999965: floored, not rounded up.
		expect(contributionFor(active(21_052_631_578_947)).annual_contribution_cents).toBe(1_999_999_999);
		// 500,000,010,000 × 50 / 10^6 = 25,000,000.5: an exact half is floored too.
		expect(contributionFor(active(500_000_010_000)).annual_contribution_cents).toBe(25_000_000);
		// An exact product is left as is.
		expect(contributionFor(active(10 * BILLION_USD)).annual_contribution_cents).toBe(700_000 * USD);
	});

	it("raises small economies to the minimum and caps the largest at the maximum", () => {
		// Tuvalu-sized: USD 62 million × 50 ppm = USD 3,100, raised to USD 10,000.
		expect(contributionFor(active(62_000_000 * USD)).annual_contribution_cents).toBe(MIN_CONTRIBUTION_CENTS);
		expect(contributionFor(active(0)).annual_contribution_cents).toBe(MIN_CONTRIBUTION_CENTS);
		// United States 2023: USD 27.36 trillion × 95 ppm = USD 2.599 billion, capped at USD 2.5 billion.
		expect(contributionFor(active(2_736_093_500_000_000)).annual_contribution_cents).toBe(
			MAX_CONTRIBUTION_CENTS,
		);
	});

	it("computes the largest economies exactly, past 2^53, without overflow", () => {
		// GDP × rate is 2.5 × 10^17 here; in floating point it rounds to exactly USD 2.5 billion, the exact
		// (BigInt) result is one cent less.
		const gdp = 2_631_578_947_368_421;
		expect((gdp * STANDARD_RATE_PPM) / 1_000_000).toBe(250_000_000_000);
		expect(contributionFor(active(gdp)).annual_contribution_cents).toBe(249_999_999_999);
		const largest = contributionFor(active(Number.MAX_SAFE_INTEGER));
		expect(largest.annual_contribution_cents).toBe(MAX_CONTRIBUTION_CENTS);
		expect(Number.isSafeInteger(largest.annual_contribution_cents)).toBe(true);
	});

	it("refuses money that is not a non-negative safe integer, and inconsistent input", () => {
		expect(() => contributionFor(active(1.5))).toThrow(RangeError);
		expect(() => contributionFor(active(-1))).toThrow(RangeError);
		expect(() => contributionFor(active(Number.MAX_SAFE_INTEGER + 1))).toThrow(RangeError);
		expect(() => contributionFor({ gdp_cents: 100, gdp_year: null, covenant_status: "active" })).toThrow(
			/gdp_year/,
		);
		expect(() => contributionFor({ gdp_cents: null, gdp_year: 2023, covenant_status: "active" })).toThrow(
			/gdp_year/,
		);
		expect(() =>
			contributionFor({
				gdp_cents: 100,
				gdp_year: 2023,
				covenant_status: "member" as ContributionInput["covenant_status"],
			}),
		).toThrow(/covenant status/);
	});
});

describe("the committed seed nations", () => {
	const nations = seedData.nations as NationSeed[];
	const activeNations = nations.filter((nation) => nation.covenant_status === "active");
	const total = activeNations.reduce((sum, nation) => sum + nation.annual_contribution_cents, 0);

	it("have Phase 1's 56 largest economies active, each charged by the rule", () => {
		expect(activeNations).toHaveLength(PHASE_1_NATIONS);
		for (const nation of nations) {
			const expected = contributionFor(nation);
			expect(nation.annual_contribution_cents, nation.iso2).toBe(expected.annual_contribution_cents);
			expect(nation.contribution_rate_ppm, nation.iso2).toBe(expected.rate_ppm);
		}
		const smallestActive = Math.min(...activeNations.map((nation) => nation.gdp_cents ?? 0));
		const largestCandidate = Math.max(
			...nations
				.filter((nation) => nation.covenant_status !== "active")
				.map((nation) => nation.gdp_cents ?? 0),
		);
		expect(smallestActive).toBeGreaterThan(largestCandidate);
	});

	it("contribute USD 9,338,132,355.56 a year, within 1 % of the seed's USD 9.394 billion", () => {
		expect(total).toBe(933_813_235_556);
		expect(Number.isSafeInteger(total)).toBe(true);
		expect(Math.abs(total - PHASE_1_SEED_TOTAL_CENTS) / PHASE_1_SEED_TOTAL_CENTS).toBeLessThan(0.01);
		// Only the United States reaches the ceiling.
		const capped = activeNations.filter(
			(nation) => nation.annual_contribution_cents === MAX_CONTRIBUTION_CENTS,
		);
		expect(capped.map((nation) => nation.iso2)).toEqual(["US"]);
	});
});
