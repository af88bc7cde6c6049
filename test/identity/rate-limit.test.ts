import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newBucket, takeFromBucket } from "../../durable-objects/rate-limiter/bucket.ts";
import { leaseSizeFor, resetLocalRateLimits } from "../../durable-objects/rate-limiter/client.ts";
import { rateLimitClock } from "../../durable-objects/rate-limiter/clock.ts";
import { call } from "../support/http.ts";
import { createKey, personWith, problem, withKey } from "./helpers.ts";

/** Drives the rate limiter's clock (isolate fast path and Durable Object alike): no sleeping, no flakiness. */
let simulated = 0;
const realNow = rateLimitClock.now;
beforeEach(() => {
	simulated = Date.now();
	rateLimitClock.now = () => simulated;
});
afterEach(() => {
	rateLimitClock.now = realNow;
	resetLocalRateLimits();
});

const tightDefaults = (perMinute: number, burst: number) =>
	({ RATE_LIMIT_PER_MINUTE: String(perMinute), RATE_LIMIT_BURST: String(burst) }) as Partial<Env>;

describe("token bucket arithmetic", () => {
	it("refills at the configured rate up to the burst, and clamps a cost larger than the bucket", () => {
		const policy = { perMinute: 600, burst: 10 };
		const bucket = newBucket(policy, 0);
		for (let i = 0; i < 10; i++)
			expect(takeFromBucket(bucket, 0, { cost: 1, policy, leaseMax: 0, leaseTtlMs: 0 }).allowed).toBe(true);
		const refused = takeFromBucket(bucket, 0, { cost: 1, policy, leaseMax: 0, leaseTtlMs: 0 });
		expect(refused).toMatchObject({ allowed: false, retryAfterMs: 100 });
		expect(takeFromBucket(bucket, 100, { cost: 1, policy, leaseMax: 0, leaseTtlMs: 0 }).allowed).toBe(true);
		expect(takeFromBucket(bucket, 10_000, { cost: 50, policy, leaseMax: 0, leaseTtlMs: 0 }).allowed).toBe(
			true,
		);
	});

	it("never holds more than the burst in the bucket and outstanding leases together", () => {
		const policy = { perMinute: 6000, burst: 100 };
		const bucket = newBucket(policy, 0);
		let t = 0;
		for (let i = 0; i < 500; i++) {
			t += 7;
			takeFromBucket(bucket, t, { cost: 1, policy, leaseMax: 10, leaseTtlMs: 1000 });
			const leased = bucket.leases.filter((l) => l.expiresAt > t).reduce((sum, l) => sum + l.amount, 0);
			expect(bucket.tokens + leased).toBeLessThanOrEqual(policy.burst + 1e-9);
		}
	});

	it("leases a tenth of the bucket at most, and nothing for slow limits", () => {
		expect(leaseSizeFor({ perMinute: 6000, burst: 1000 })).toBe(50);
		expect(leaseSizeFor({ perMinute: 600, burst: 20 })).toBe(2);
		expect(leaseSizeFor({ perMinute: 60, burst: 100 })).toBe(0);
	});
});

describe("rate limiting through the API", () => {
	it("admits the configured rate within ±10% when driven at twice that rate", async () => {
		const admin = await personWith("admin", "admin");
		const perMinute = 600; // 10 a second
		const burst = 20;
		const { key } = await createKey(admin, {
			scopes: ["partner"],
			rate_limit: { per_minute: perMinute, burst },
		});
		const seconds = 30;
		const requestsPerSecond = 20; // twice the configured rate
		const start = simulated;
		let admitted = 0;
		let limited = 0;
		for (let i = 0; i < seconds * requestsPerSecond; i++) {
			simulated = start + Math.round((i * 1000) / requestsPerSecond);
			// The limiter decides before the permission check: an admitted call to a route the key may not use
			// answers 403, a limited one 429. The measure needs no database, so nothing but the limiter varies.
			const response = await call("/v1/admin/revocations", { headers: withKey(key) });
			if (response.status === 403) admitted++;
			else if (response.status === 429) limited++;
			else throw new Error(`unexpected ${response.status}: ${await response.text()}`);
			// Never more than the burst plus what refilled so far.
			expect(admitted).toBeLessThanOrEqual(burst + ((simulated - start) / 60_000) * perMinute + 1);
		}
		const sustained = (admitted - burst) / seconds;
		console.log(
			`rate limit accuracy: ${admitted} of ${admitted + limited} admitted, ${sustained.toFixed(2)}/s sustained for 10/s configured`,
		);
		expect(admitted + limited).toBe(seconds * requestsPerSecond);
		expect(sustained).toBeGreaterThanOrEqual(10 * 0.9);
		expect(sustained).toBeLessThanOrEqual(10 * 1.1);
	});

	it("answers 429 problem+json with Retry-After and the IETF RateLimit headers", async () => {
		const person = await personWith("viewer", "limited");
		const limits = tightDefaults(60, 3);
		for (let i = 0; i < 3; i++) {
			const ok = await call("/v1/me", { headers: person.headers }, limits);
			expect(ok.status).toBe(200);
			expect(ok.headers.get("ratelimit-policy")).toBe('"user";q=3;w=3');
			expect(ok.headers.get("ratelimit")).toMatch(new RegExp(`^"user";r=${2 - i};t=\\d+$`));
		}
		const limited = await call("/v1/me", { headers: person.headers }, limits);
		expect(limited.status).toBe(429);
		expect(limited.headers.get("retry-after")).toBe("1");
		expect(limited.headers.get("ratelimit")).toMatch(/^"user";r=0;t=\d+$/);
		expect((await problem(limited)).code).toBe("rate_limited");
		simulated += 1_000;
		expect((await call("/v1/me", { headers: person.headers }, limits)).status).toBe(200);
	});

	it("charges each route its declared cost", async () => {
		const admin = await personWith("admin", "admin");
		const limits = tightDefaults(60, 10);
		const cheap = await call("/v1/me", { headers: admin.headers }, limits);
		expect(cheap.headers.get("ratelimit")).toMatch(/r=9;/);
		const listing = await call("/v1/users?limit=1", { headers: admin.headers }, limits); // cost 2
		expect(listing.status).toBe(200);
		expect(listing.headers.get("ratelimit")).toMatch(/r=7;/);
		// Errors after the rate limit spend it too, and say so.
		const missing = await call(
			"/v1/users/00000000-0000-4000-8000-000000000000",
			{ headers: admin.headers },
			limits,
		);
		expect(missing.status).toBe(404);
		expect(missing.headers.get("ratelimit")).toMatch(/r=6;/);
		const invalid = await call("/v1/users?limit=0", { headers: admin.headers }, limits);
		expect(invalid.status).toBe(400);
		expect(invalid.headers.get("ratelimit")).toMatch(/r=4;/);
	});

	it("keeps a bucket per principal and per API key", async () => {
		const limits = tightDefaults(60, 2);
		const alice = await personWith("partner", "alice");
		const bob = await personWith("partner", "bob");
		const admin = await personWith("admin", "admin");
		const created = await createKey(admin, { owner: alice.sub });
		// Alice's key has a bucket of its own, apart from hers (the deployment default: it sets no limit).
		for (let i = 0; i < 2; i++)
			expect((await call("/v1/me", { headers: alice.headers }, limits)).status).toBe(200);
		expect((await call("/v1/me", { headers: alice.headers }, limits)).status).toBe(429);
		expect((await call("/v1/me", { headers: bob.headers }, limits)).status).toBe(200);
		expect((await call("/v1/api-keys", { headers: withKey(created.key) }, limits)).status).toBe(200);
		expect((await call("/v1/api-keys", { headers: withKey(created.key) }, limits)).status).toBe(200);
		expect((await call("/v1/api-keys", { headers: withKey(created.key) }, limits)).status).toBe(429);
	});

	it("never lets more than the burst through, however requests are spread over isolates", async () => {
		const limits = tightDefaults(6000, 40); // leases of 4
		const person = await personWith("viewer", "burst");
		// Admitted calls answer 403 (a viewer may not list revocations), limited ones 429: no database involved.
		const admittedOf = (responses: Response[]) => responses.filter((r) => r.status === 403).length;
		const concurrent = await Promise.all(
			Array.from({ length: 60 }, () => call("/v1/admin/revocations", { headers: person.headers }, limits)),
		);
		expect(concurrent.every((r) => r.status === 403 || r.status === 429)).toBe(true);
		let admitted = admittedOf(concurrent);
		// Each reset drops this isolate's leases, as if the next requests reached a fresh isolate.
		for (let i = 0; i < 30; i++) {
			resetLocalRateLimits();
			admitted += admittedOf([await call("/v1/admin/revocations", { headers: person.headers }, limits)]);
		}
		expect(admitted).toBeLessThanOrEqual(40);
		expect(admitted).toBeGreaterThanOrEqual(30);
	});

	it("keeps enforcing the policy in the isolate when the limiter cannot be reached", async () => {
		const person = await personWith("viewer", "fallback");
		const broken = {
			...tightDefaults(60, 2),
			RATE_LIMITER: {
				idFromName: () => ({}),
				get: () => ({
					take: () => Promise.reject(new Error("limiter down")),
				}),
			},
		} as unknown as Partial<Env>;
		expect((await call("/v1/me", { headers: person.headers }, broken)).status).toBe(200);
		expect((await call("/v1/me", { headers: person.headers }, broken)).status).toBe(200);
		expect((await call("/v1/me", { headers: person.headers }, broken)).status).toBe(429);
	});
});
