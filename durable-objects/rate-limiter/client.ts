import { BoundedCache } from "../../workers/auth/bounded-cache.ts";
import type { Background } from "../../workers/lib/context.ts";
import { type BucketPolicy, type BucketState, newBucket, takeFromBucket } from "./bucket.ts";
import { rateLimitClock } from "./clock.ts";
import type { RateLimiter } from "./object.ts";

/** How long the limiter object reserves a lease's tokens. */
export const LEASE_TTL_MS = 1_000;
/**
 * An isolate spends a lease only until this long after it *asked* for it: asking happens before the object
 * grants, so the isolate always stops before the object releases the reservation, whatever the latency.
 */
const LEASE_USABLE_MS = 800;

export interface RateLimitDecision {
	allowed: boolean;
	policy: BucketPolicy;
	/** Units the caller may still spend right now (approximate on the fast path: this isolate's view). */
	remaining: number;
	/** Seconds until a refused request of this cost could pass (0 when allowed). */
	retryAfterSeconds: number;
	/** Seconds until the bucket would be full again. */
	resetSeconds: number;
	/** `isolate`: answered from a lease or a cached refusal; `limiter`: by the object; `fallback`: see below. */
	source: "isolate" | "limiter" | "fallback";
}

interface LocalLease {
	amount: number;
	usableUntil: number;
}

interface LocalBucket {
	policyKey: string;
	/** Leased units this isolate may still spend without asking, each lease with its own end. */
	leases: LocalLease[];
	/** Requests of this isolate waiting for the limiter: only one of them asks for a lease. */
	inFlight: number;
	/** The shared bucket's tokens at the last answer, and when it would be full. */
	sharedRemaining: number;
	fullAt: number;
	/** A refusal remembered until it could change: same or larger costs are refused locally until then. */
	refusedUntil: number;
	refusedCost: number;
	/** Used only while the limiter object cannot be reached. */
	fallback?: BucketState;
	/** When this isolate's background lease renewal started (undefined: none running). */
	renewingSince?: number;
}

/** At most this many leases are tracked per bucket; dropping one only ever admits less. */
const MAX_LOCAL_LEASES = 8;

const localBuckets = new BoundedCache<string, LocalBucket>({ maxEntries: 10_000, maxBytes: 4_000_000 });
/** An idle principal's local state is dropped after this long (its leases are long expired by then). */
const LOCAL_IDLE_MS = 60_000;

/**
 * The lease an isolate asks for: at most a tenth of the bucket and half of what refills while the lease
 * lives, so idle leases never starve other edges. Slow limits (under ~2 units a second) lease nothing.
 */
export function leaseSizeFor(policy: BucketPolicy): number {
	return Math.floor(Math.min(policy.burst / 10, ((policy.perMinute / 60) * LEASE_TTL_MS) / 1000 / 2));
}

function limiterStub(env: Pick<Env, "RATE_LIMITER">, bucketKey: string) {
	return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(bucketKey)) as DurableObjectStub<RateLimiter>;
}

/** Drops spent and expired leases; returns what the rest hold. No allocation when nothing was dropped. */
function leaseLeft(local: LocalBucket, now: number): number {
	let left = 0;
	let dead = false;
	for (const lease of local.leases) {
		if (lease.usableUntil > now && lease.amount > 0) left += lease.amount;
		else dead = true;
	}
	if (dead) local.leases = local.leases.filter((lease) => lease.usableUntil > now && lease.amount > 0);
	return left;
}

/** Spends from the leases that end first. The caller checked that enough is left. */
function spendLeases(local: LocalBucket, cost: number): void {
	const only = local.leases.length === 1 ? local.leases[0] : undefined;
	if (only) {
		only.amount -= cost;
		return;
	}
	let due = cost;
	for (const lease of [...local.leases].sort((a, b) => a.usableUntil - b.usableUntil)) {
		const spent = Math.min(lease.amount, due);
		lease.amount -= spent;
		due -= spent;
		if (due === 0) break;
	}
}

const policyKeys = new WeakMap<BucketPolicy, string>();

function policyKeyOf(policy: BucketPolicy): string {
	let key = policyKeys.get(policy);
	if (key === undefined) {
		key = `${policy.perMinute}/${policy.burst}`;
		policyKeys.set(policy, key);
	}
	return key;
}

/**
 * The fast path of `takeRateLimit`: spends `cost` from this isolate's unexpired leases of the bucket and
 * answers allowed, or answers undefined (and spends nothing) when they do not cover it. Synchronous: the
 * isolate hot path calls it directly.
 */
export function takeFromLease(
	bucketKey: string,
	cost: number,
	policy: BucketPolicy,
	now = rateLimitClock.now(),
): RateLimitDecision | undefined {
	const local = localBuckets.get(bucketKey, now);
	if (!local || local.policyKey !== policyKeyOf(policy)) return undefined;
	const leased = leaseLeft(local, now);
	if (leased < cost) return undefined;
	spendLeases(local, cost);
	return decision(true, policy, local.sharedRemaining + leased - cost, 0, local.fullAt - now, "isolate");
}

/**
 * A lease in use this close to its end is renewed in the background by the request that notices, so a busy
 * isolate moves from one lease to the next without its requests waiting on the limiter. Without it, every
 * request in flight when a lease ends asks the limiter itself (only the first may lease): each ~800 ms, an
 * isolate serving 32 concurrent clients made 32 round trips through the full pipeline.
 */
const RENEW_AHEAD_MS = 250;
/** A renewal running longer than this is presumed lost (its request was cancelled); another may start. */
const RENEWAL_GIVE_UP_MS = 2_000;

/**
 * Starts a background renewal of the bucket's lease if the lease being spent ends within RENEW_AHEAD_MS and no
 * renewal is running in this isolate. The renewal leases on top of a zero-cost take, so it admits nothing by
 * itself, and runs in `ctx.waitUntil` of the request that noticed (its I/O belongs to that request). If it fails,
 * the next request without a lease asks the limiter as it always did.
 */
export function renewLeaseAhead(
	env: Pick<Env, "RATE_LIMITER">,
	bucketKey: string,
	policy: BucketPolicy,
	ctx: Background,
	now = rateLimitClock.now(),
): void {
	const local = localBuckets.get(bucketKey, now);
	if (!local || local.policyKey !== policyKeyOf(policy)) return;
	if (local.renewingSince !== undefined && now - local.renewingSince < RENEWAL_GIVE_UP_MS) return;
	let latestEnd = 0;
	for (const lease of local.leases)
		if (lease.amount > 0 && lease.usableUntil > latestEnd) latestEnd = lease.usableUntil;
	if (latestEnd <= now || latestEnd - now > RENEW_AHEAD_MS) return;
	const leaseMax = leaseSizeFor(policy);
	if (leaseMax <= 0) return;
	local.renewingSince = now;
	ctx.waitUntil(renewLease(env, bucketKey, policy, local, leaseMax, now));
}

async function renewLease(
	env: Pick<Env, "RATE_LIMITER">,
	bucketKey: string,
	policy: BucketPolicy,
	local: LocalBucket,
	leaseMax: number,
	askedAt: number,
): Promise<void> {
	try {
		const result = await limiterStub(env, bucketKey).take({
			cost: 0,
			policy,
			leaseMax,
			leaseTtlMs: LEASE_TTL_MS,
		});
		const answeredAt = rateLimitClock.now();
		local.sharedRemaining = result.remaining;
		local.fullAt = answeredAt + result.resetAfterMs;
		if (result.lease > 0) {
			local.leases.push({ amount: result.lease, usableUntil: askedAt + LEASE_USABLE_MS });
			if (local.leases.length > MAX_LOCAL_LEASES) local.leases.shift();
		}
	} catch (error) {
		console.error(
			JSON.stringify({ msg: "rate limit lease renewal failed", bucketKey, error: String(error) }),
		);
	} finally {
		if (local.renewingSince === askedAt) local.renewingSince = undefined;
	}
}

/**
 * Spends `cost` units of `bucketKey`'s bucket. The fast path answers in the isolate from a lease (or a
 * remembered refusal); otherwise the bucket's Durable Object decides. If the object cannot be reached, this
 * isolate enforces the same policy by itself (never unlimited) until it can again.
 */
export async function takeRateLimit(
	env: Pick<Env, "RATE_LIMITER">,
	bucketKey: string,
	cost: number,
	policy: BucketPolicy,
): Promise<RateLimitDecision> {
	const now = rateLimitClock.now();
	const fromLease = takeFromLease(bucketKey, cost, policy, now);
	if (fromLease) return fromLease;
	const policyKey = policyKeyOf(policy);
	let local = localBuckets.get(bucketKey, now);
	if (!local || local.policyKey !== policyKey) {
		local = {
			policyKey,
			leases: [],
			inFlight: 0,
			sharedRemaining: policy.burst,
			fullAt: now,
			refusedUntil: 0,
			refusedCost: Number.POSITIVE_INFINITY,
		};
		localBuckets.set(bucketKey, local, LOCAL_IDLE_MS, now);
	}

	const leased = leaseLeft(local, now);
	if (local.refusedUntil > now && cost >= local.refusedCost) {
		return decision(
			false,
			policy,
			local.sharedRemaining + leased,
			local.refusedUntil - now,
			local.fullAt - now,
			"isolate",
		);
	}

	const askedAt = now;
	let result: Awaited<ReturnType<RateLimiter["take"]>>;
	local.inFlight++;
	try {
		result = await limiterStub(env, bucketKey).take({
			cost,
			policy,
			// Concurrent requests of one isolate lease once: several leases at once would idle in the isolate.
			leaseMax: local.inFlight === 1 ? leaseSizeFor(policy) : 0,
			leaseTtlMs: LEASE_TTL_MS,
		});
	} catch (error) {
		console.error(JSON.stringify({ msg: "rate limiter unreachable", bucketKey, error: String(error) }));
		local.fallback ??= newBucket(policy, now);
		const fallback = takeFromBucket(local.fallback, now, { cost, policy, leaseMax: 0, leaseTtlMs: 0 });
		return decision(
			fallback.allowed,
			policy,
			fallback.remaining,
			fallback.retryAfterMs,
			fallback.resetAfterMs,
			"fallback",
		);
	} finally {
		local.inFlight--;
	}
	const answeredAt = rateLimitClock.now();
	local.sharedRemaining = result.remaining;
	local.fullAt = answeredAt + result.resetAfterMs;
	if (!result.allowed) {
		local.refusedUntil = answeredAt + result.retryAfterMs;
		local.refusedCost = cost;
		return decision(
			false,
			policy,
			result.remaining + leaseLeft(local, answeredAt),
			result.retryAfterMs,
			result.resetAfterMs,
			"limiter",
		);
	}
	local.refusedUntil = 0;
	local.refusedCost = Number.POSITIVE_INFINITY;
	if (result.lease > 0) {
		local.leases.push({ amount: result.lease, usableUntil: askedAt + LEASE_USABLE_MS });
		if (local.leases.length > MAX_LOCAL_LEASES) local.leases.shift();
	}
	return decision(
		true,
		policy,
		result.remaining + leaseLeft(local, answeredAt),
		0,
		result.resetAfterMs,
		"limiter",
	);
}

function decision(
	allowed: boolean,
	policy: BucketPolicy,
	remaining: number,
	retryAfterMs: number,
	resetAfterMs: number,
	source: RateLimitDecision["source"],
): RateLimitDecision {
	return {
		allowed,
		policy,
		remaining: Math.max(0, Math.floor(remaining)),
		retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(retryAfterMs / 1000)),
		resetSeconds: Math.max(0, Math.ceil(resetAfterMs / 1000)),
		source,
	};
}

/** Forgets this isolate's local state (leases, remembered refusals): for tests that drive the clock. */
export function resetLocalRateLimits(): void {
	localBuckets.clear();
}
