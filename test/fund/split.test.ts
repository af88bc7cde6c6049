import { describe, expect, it } from "vitest";
import { type Share, SplitError, splitByWeight, type Weight } from "../../workers/domain/fund/split.ts";
import { LEDGER_NATIONS } from "../../workers/domain/ledger/nations.ts";

const sum = (shares: Share[]) => shares.reduce((total, s) => total + BigInt(s.share), 0n);
const ALL = LEDGER_NATIONS.map((n) => n.iso2);

/** The exact quota amount × weight / total as a fraction, to check each share is within a cent of it. */
function withinOneCent(amount: number, weights: Weight[], shares: Share[]) {
	const total = weights.reduce((t, w) => t + BigInt(w.weight), 0n);
	for (const share of shares) {
		const exact = BigInt(amount) * BigInt(share.weight); // quota × total
		const given = BigInt(share.share) * total;
		const diff = given > exact ? given - exact : exact - given;
		expect(diff < total, `${share.nation} is more than a cent from its quota`).toBe(true);
	}
}

/** A deterministic pseudo-random sequence, so a failure reproduces. */
function random(seed: number) {
	let state = seed;
	return () => {
		state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
		return state / 2 ** 32;
	};
}

describe("splitByWeight: largest remainder in integer cents", () => {
	it("splits 1 cent over 195 equally weighted nations: one nation gets it, by the documented tie-break", () => {
		const weights = ALL.map((nation) => ({ nation, weight: 1_000_000 }));
		expect(weights).toHaveLength(195);
		const shares = splitByWeight(1, weights);
		expect(sum(shares)).toBe(1n);
		const paid = shares.filter((s) => s.share > 0);
		// Equal remainders and equal weights: the lowest ISO code wins.
		expect(paid).toEqual([{ nation: "AD", weight: 1_000_000, share: 1, extra_cent: true }]);
	});

	it("gives left-over cents to the largest remainders, ties to the larger weight, then the lower ISO code", () => {
		// 1 cent over weights 1, 2, 1 (total 4): remainders 1, 2, 1 (quarters): the largest remainder wins.
		const byRemainder = splitByWeight(1, [
			{ nation: "UG", weight: 1 },
			{ nation: "KE", weight: 2 },
			{ nation: "TZ", weight: 1 },
		]);
		expect(byRemainder.filter((s) => s.extra_cent).map((s) => s.nation)).toEqual(["KE"]);
		// 2 cents over weights 1 and 3 (total 4): remainders 2 and 6 mod 4 = 2 tie: the larger weight wins.
		expect(
			splitByWeight(2, [
				{ nation: "AA", weight: 1 },
				{ nation: "BB", weight: 3 },
			]),
		).toEqual([
			{ nation: "AA", weight: 1, share: 0, extra_cent: false },
			{ nation: "BB", weight: 3, share: 2, extra_cent: true },
		]);
		// 2 cents over weights 1, 1, 2: XX gets 1 whole cent; the last cent ties on remainder and weight: lower code.
		expect(
			splitByWeight(2, [
				{ nation: "ZZ", weight: 1 },
				{ nation: "YY", weight: 1 },
				{ nation: "XX", weight: 2 },
			]),
		).toEqual([
			{ nation: "XX", weight: 2, share: 1, extra_cent: false },
			{ nation: "YY", weight: 1, share: 1, extra_cent: true },
			{ nation: "ZZ", weight: 1, share: 0, extra_cent: false },
		]);
	});

	it("is exact for prime amounts over prime-ish weights, and the same whatever the input order", () => {
		const next = random(7);
		const weights = ALL.map((nation) => ({ nation, weight: 1 + Math.floor(next() * 250_000_000_000) }));
		for (const amount of [2, 3, 7, 97, 7_919, 104_729, 1_000_003, 2_147_483_647, 999_999_999_989]) {
			const shares = splitByWeight(amount, weights);
			expect(sum(shares)).toBe(BigInt(amount));
			withinOneCent(amount, weights, shares);
			expect(splitByWeight(amount, [...weights].reverse())).toEqual(shares);
		}
	});

	it("is exact for amounts near 2^53 with the largest weights (products far beyond 2^53)", () => {
		const weights = ALL.map((nation, i) => ({ nation, weight: 250_000_000_000 - i * 7 }));
		for (const amount of [
			Number.MAX_SAFE_INTEGER,
			Number.MAX_SAFE_INTEGER - 1,
			2 ** 52 + 1,
			9_007_199_254_740_881,
		]) {
			const shares = splitByWeight(amount, weights);
			expect(sum(shares)).toBe(BigInt(amount));
			for (const share of shares) expect(Number.isSafeInteger(share.share)).toBe(true);
			withinOneCent(amount, weights, shares);
		}
	});

	it("sums exactly over many random cases, and never gives a cent more than one above the floor", () => {
		const next = random(42);
		for (let round = 0; round < 300; round++) {
			const count = 1 + Math.floor(next() * 195);
			const weights = ALL.slice(0, count).map((nation) => ({
				nation,
				weight: 1 + Math.floor(next() * 10 ** (1 + Math.floor(next() * 11))),
			}));
			const amount = 1 + Math.floor(next() * 10 ** (1 + Math.floor(next() * 15)));
			const shares = splitByWeight(amount, weights);
			expect(sum(shares)).toBe(BigInt(amount));
			expect(shares.filter((s) => s.extra_cent).length).toBeLessThan(count);
			withinOneCent(amount, weights, shares);
		}
	});

	it("refuses what cannot be split", () => {
		const one = [{ nation: "KE", weight: 1 }];
		for (const amount of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
			expect(() => splitByWeight(amount, one)).toThrow(SplitError);
		}
		expect(() => splitByWeight(1, [])).toThrow(/nobody/);
		expect(() => splitByWeight(1, [{ nation: "KE", weight: 0 }])).toThrow(/weight/);
		expect(() =>
			splitByWeight(1, [
				{ nation: "KE", weight: 1 },
				{ nation: "KE", weight: 2 },
			]),
		).toThrow(/twice/);
	});
});
