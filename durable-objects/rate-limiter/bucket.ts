/**
 * A token bucket with leases: the arithmetic of one rate limit, free of I/O so it can be tested by itself.
 *
 * The bucket holds at most `burst` tokens and refills at `perMinute / 60` tokens a second. A request of cost
 * `c` takes `c` tokens or is refused. An edge isolate may also take a small *lease*: tokens moved out of the
 * bucket that it spends locally, without a round trip, until the lease expires. Leased tokens still count
 * against the bucket: while a lease is outstanding the bucket refills only up to `burst - leased`, so the
 * tokens in the bucket plus the tokens in all unexpired leases never exceed `burst`. Whatever the number of
 * isolates, no more than `burst + rate × t` units are ever admitted in any interval t.
 */
export interface BucketPolicy {
	/** Sustained rate, in cost units per minute. */
	perMinute: number;
	/** Bucket size: the most units admitted at once. */
	burst: number;
}

export interface Lease {
	amount: number;
	expiresAt: number;
}

export interface BucketState {
	tokens: number;
	updatedAt: number;
	leases: Lease[];
}

export interface TakeRequest {
	cost: number;
	policy: BucketPolicy;
	/** The most tokens to lease beyond `cost` (0: no lease). */
	leaseMax: number;
	leaseTtlMs: number;
}

export interface TakeResult {
	allowed: boolean;
	/** Whole tokens left in the bucket after this take (not counting the lease just granted). */
	remaining: number;
	/** Tokens leased to the caller on top of `cost`. */
	lease: number;
	/** Until a refused request of this cost could succeed (0 when allowed). */
	retryAfterMs: number;
	/** Until the bucket would be full again with no further traffic. */
	resetAfterMs: number;
}

export function newBucket(policy: BucketPolicy, now: number): BucketState {
	return { tokens: policy.burst, updatedAt: now, leases: [] };
}

function msPerToken(policy: BucketPolicy): number {
	return 60_000 / policy.perMinute;
}

export function takeFromBucket(state: BucketState, now: number, request: TakeRequest): TakeResult {
	const { policy } = request;
	state.leases = state.leases.filter((l) => l.expiresAt > now);
	const leased = state.leases.reduce((sum, l) => sum + l.amount, 0);
	const capacity = Math.max(0, policy.burst - leased);
	const elapsed = Math.max(0, now - state.updatedAt);
	state.tokens = Math.min(capacity, state.tokens + elapsed / msPerToken(policy));
	state.updatedAt = now;
	// A route costing more than a key's whole bucket could never pass; it costs the whole bucket instead.
	const cost = Math.min(request.cost, policy.burst);
	const resetAfter = () => Math.ceil((policy.burst - state.tokens) * msPerToken(policy));
	if (state.tokens + 1e-9 < cost) {
		return {
			allowed: false,
			remaining: Math.floor(state.tokens),
			lease: 0,
			retryAfterMs: Math.ceil((cost - state.tokens) * msPerToken(policy)),
			resetAfterMs: resetAfter(),
		};
	}
	state.tokens = Math.max(0, state.tokens - cost);
	const lease = Math.max(0, Math.min(request.leaseMax, Math.floor(state.tokens)));
	if (lease > 0) {
		state.tokens -= lease;
		state.leases.push({ amount: lease, expiresAt: now + request.leaseTtlMs });
	}
	return {
		allowed: true,
		remaining: Math.floor(state.tokens),
		lease,
		retryAfterMs: 0,
		resetAfterMs: resetAfter(),
	};
}
