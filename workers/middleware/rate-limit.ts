import type { Context, MiddlewareHandler } from "hono";
import { z } from "zod";
import type { BucketPolicy } from "../../durable-objects/rate-limiter/bucket.ts";
import {
	type RateLimitDecision,
	renewLeaseAhead,
	takeRateLimit,
} from "../../durable-objects/rate-limiter/client.ts";
import type { Principal } from "../auth/principal.ts";
import { type AppEnv, backgroundOf } from "../lib/context.ts";
import { ApiError } from "../lib/problem.ts";
import { setFinalHeader } from "./request-context.ts";

const RateLimitEnv = z.object({
	RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive(),
	RATE_LIMIT_BURST: z.coerce.number().int().positive(),
});

const defaults = new WeakMap<object, BucketPolicy>();

/** The deployment's default policy, validated once per env object (a bad value fails loudly, here). */
export function defaultRateLimit(env: Env): BucketPolicy {
	let policy = defaults.get(env);
	if (!policy) {
		const parsed = RateLimitEnv.safeParse(env);
		if (!parsed.success) {
			throw new Error(
				`Covenant Edge is misconfigured: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
			);
		}
		policy = { perMinute: parsed.data.RATE_LIMIT_PER_MINUTE, burst: parsed.data.RATE_LIMIT_BURST };
		defaults.set(env, policy);
	}
	return policy;
}

const buckets = new WeakMap<Principal, { env: Env; bucket: RateLimitBucket }>();

export interface RateLimitBucket {
	key: string;
	name: string;
	policy: BucketPolicy;
}

/**
 * Whose bucket a request spends from: the API key's own, or the person's (all their tokens share it).
 * Remembered per principal (principals of cached tokens live across requests) and deployment config.
 */
export function bucketFor(principal: Principal, env: Env): RateLimitBucket {
	const known = buckets.get(principal);
	if (known && known.env === env) return known.bucket;
	const bucket =
		principal.kind === "api_key"
			? { key: `key:${principal.id}`, name: "api-key", policy: principal.rateLimit ?? defaultRateLimit(env) }
			: { key: `user:${principal.id}`, name: "user", policy: principal.rateLimit ?? defaultRateLimit(env) };
	buckets.set(principal, { env, bucket });
	return bucket;
}

/**
 * IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers): the policy as a quota `q` that refills
 * completely over `w` seconds (a token bucket of size q and rate q/w), and the live counter `r` (remaining)
 * with `t` (seconds until the bucket is full again).
 */
export function rateLimitHeaders(name: string, d: RateLimitDecision): Record<string, string> {
	const window = Math.max(1, Math.ceil((d.policy.burst * 60) / d.policy.perMinute));
	const headers: Record<string, string> = {
		"ratelimit-policy": `"${name}";q=${d.policy.burst};w=${window}`,
		ratelimit: `"${name}";r=${d.remaining};t=${d.resetSeconds}`,
	};
	if (!d.allowed) headers["retry-after"] = String(d.retryAfterSeconds);
	return headers;
}

/**
 * Spends `cost` from the caller's token bucket: throws 429 problem+json with `Retry-After` when it is empty,
 * else returns the RateLimit headers the response carries.
 */
export async function spendRateLimit(
	c: Context<AppEnv>,
	principal: Principal,
	cost: number,
): Promise<Record<string, string>> {
	const bucket = bucketFor(principal, c.env);
	const decision = await takeRateLimit(c.env, bucket.key, cost, bucket.policy);
	if (decision.source === "isolate") renewLeaseAhead(c.env, bucket.key, bucket.policy, backgroundOf(c));
	const headers = rateLimitHeaders(bucket.name, decision);
	if (!decision.allowed) {
		throw new ApiError(
			"rate_limited",
			`Rate limit exceeded: this route costs ${cost} of your ${bucket.policy.perMinute} units a minute (bursts up to ${bucket.policy.burst}); retry after ${decision.retryAfterSeconds} s`,
			{ headers, extensions: { retry_after_seconds: decision.retryAfterSeconds } },
		);
	}
	return headers;
}

/** Puts the RateLimit headers on the answer the handler gave. */
export function setRateLimitHeaders(c: Context<AppEnv>, headers: Record<string, string>): void {
	for (const name in headers) setFinalHeader(c, name, headers[name] as string);
}

/**
 * Spends the route's cost from the caller's token bucket (after authentication, before the permission check
 * and validation): 429 problem+json with `Retry-After` when empty; RateLimit headers on every response.
 * Protected routes get this through `protect()`, which runs it in one middleware with authentication.
 *
 * @example app.use("/v1/reports/*", authenticate(), rateLimit({ cost: 5 }))
 */
export function rateLimit(options: { cost?: number } = {}): MiddlewareHandler<AppEnv> {
	const cost = options.cost ?? 1;
	return async (c, next) => {
		const headers = await spendRateLimit(c, c.get("principal"), cost);
		await next();
		setRateLimitHeaders(c, headers);
	};
}
