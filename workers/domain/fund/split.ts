/**
 * Splitting an amount of cents across nations by weight, exactly: the largest-remainder (Hamilton) method in
 * BigInt, so neither `amount × weight` (which passes 2^53 for any real fund) nor a float ever rounds anything.
 *
 * 1. Each nation's quota is amount × weight / total_weight. It first gets the floor of its quota.
 * 2. The cents left over (fewer than the number of nations) go one each to the nations with the largest
 *    remainders (amount × weight mod total_weight, i.e. the fractional part of the quota).
 * 3. Ties between equal remainders are broken by the larger weight first (the bigger contributor gets the
 *    cent), then by the ISO 3166-1 alpha-2 code in ascending order, so the split is a pure function of its
 *    inputs: the same amount and weights always give the same shares, whatever order they arrive in.
 *
 * The shares sum to the amount exactly, and each differs from its exact quota by less than one cent.
 */
export interface Weight {
	nation: string;
	/** A positive integer, e.g. the cents a nation paid for the period. */
	weight: number;
}

export interface Share {
	nation: string;
	weight: number;
	/** Cents. */
	share: number;
	/** Whether the nation received one of the left-over cents (step 2). */
	extra_cent: boolean;
}

export class SplitError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "SplitError";
	}
}

/** Splits `amount` cents by `weights`; shares come back in nation order. Throws SplitError on bad input. */
export function splitByWeight(amount: number, weights: readonly Weight[]): Share[] {
	if (!Number.isSafeInteger(amount) || amount <= 0) {
		throw new SplitError(`the amount must be a positive whole number of cents up to 2^53 − 1, got ${amount}`);
	}
	if (weights.length === 0) throw new SplitError("there is nobody to split the amount across");
	const seen = new Set<string>();
	let total = 0n;
	for (const { nation, weight } of weights) {
		if (seen.has(nation)) throw new SplitError(`nation ${nation} is weighted twice`);
		seen.add(nation);
		if (!Number.isSafeInteger(weight) || weight <= 0) {
			throw new SplitError(`nation ${nation}'s weight must be a positive safe integer, got ${weight}`);
		}
		total += BigInt(weight);
	}
	const big = BigInt(amount);
	const rows = weights.map(({ nation, weight }) => {
		const product = big * BigInt(weight);
		return { nation, weight, floor: product / total, remainder: product % total };
	});
	let leftover = big - rows.reduce((sum, row) => sum + row.floor, 0n);
	const byClaim = [...rows].sort(
		(a, b) =>
			compareBig(b.remainder, a.remainder) ||
			b.weight - a.weight ||
			(a.nation < b.nation ? -1 : a.nation > b.nation ? 1 : 0),
	);
	const extra = new Set<string>();
	for (const row of byClaim) {
		if (leftover === 0n) break;
		extra.add(row.nation);
		leftover -= 1n;
	}
	return rows
		.map((row) => ({
			nation: row.nation,
			weight: row.weight,
			// Each floor is at most the amount, so it is a safe integer.
			share: Number(row.floor) + (extra.has(row.nation) ? 1 : 0),
			extra_cent: extra.has(row.nation),
		}))
		.sort((a, b) => (a.nation < b.nation ? -1 : a.nation > b.nation ? 1 : 0));
}

function compareBig(a: bigint, b: bigint): number {
	return a < b ? -1 : a > b ? 1 : 0;
}
