import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { authAuthorityClient } from "../../durable-objects/auth-authority/client.ts";
import { renewLeaseAhead, takeFromLease, takeRateLimit } from "../../durable-objects/rate-limiter/client.ts";
import { rateLimitClock } from "../../durable-objects/rate-limiter/clock.ts";
import { createApp } from "../../workers/app.ts";
import { knownNotRevoked, refreshRevocationsAhead } from "../../workers/auth/credentials.ts";
import { serveHotRead } from "../../workers/cache/hot-path.ts";
import { HOT_READS } from "../../workers/cache/hot-reads.ts";
import { msUntil } from "../identity/helpers.ts";
import { tokenFor, uniqueSub } from "../support/auth.ts";
import { call } from "../support/http.ts";

// workers/cache/hot-path.ts answers warm cached reads without the Hono pipeline. These prove it answers what
// the pipeline answers, leaves everything else to it, and weakens neither revocation nor rate limiting.

const pipeline = createApp();

/** The hot path's `ctx`: background work it starts is awaited after each test. */
const started: Promise<unknown>[] = [];
const background = {
	waitUntil(promise: Promise<unknown>) {
		started.push(promise);
	},
};
afterEach(async () => {
	await Promise.allSettled(started.splice(0));
});

function request(path: string, headers: Record<string, string> = {}, init: RequestInit = {}): Request {
	return new Request(`https://edge.test${path}`, { ...init, headers });
}

async function throughPipeline(req: Request): Promise<Response> {
	const ctx = createExecutionContext();
	const response = await pipeline.fetch(req, env, ctx);
	await waitOnExecutionContext(ctx);
	return response;
}

/** A person whose token this isolate has verified, with the path read (and cached) through the pipeline. */
async function warmReader(path: string, scope = "viewer") {
	const token = await tokenFor(scope, { sub: uniqueSub("hot") });
	const auth = { authorization: `Bearer ${token}` };
	for (let i = 0; i < 3; i++) expect((await call(path, { headers: auth })).status).toBe(200);
	return { token, auth };
}

const SAME_VALUE = ["etag", "cache-control", "x-cache", "vary", "content-type", "ratelimit-policy"];

async function expectSameAnswer(path: string, headers: Record<string, string>) {
	const hot = serveHotRead(HOT_READS, request(path, headers), env, background);
	expect(hot).toBeInstanceOf(Response);
	const full = await throughPipeline(request(path, headers));
	const fast = hot as Response;
	expect(fast.status).toBe(full.status);
	expect(await fast.text()).toBe(await full.text());
	expect([...fast.headers.keys()].sort()).toEqual([...full.headers.keys()].sort());
	for (const name of SAME_VALUE) expect(fast.headers.get(name), name).toBe(full.headers.get(name));
	expect(fast.headers.get("ratelimit")).toMatch(/^"user";r=\d+;t=\d+$/);
	expect(fast.headers.get("x-request-id")).toBe(full.headers.get("x-request-id"));
	return fast;
}

describe("the isolate hot path", () => {
	it("answers a warm nation read as the pipeline does, 304 included", async () => {
		const { auth } = await warmReader("/v1/nations/KE");
		const fast = await expectSameAnswer("/v1/nations/KE", { ...auth, "x-request-id": "req-hot-1" });
		expect(fast.headers.get("x-cache")).toBe("HIT");
		const etag = fast.headers.get("etag") as string;
		const notModified = await expectSameAnswer("/v1/nations/KE", {
			...auth,
			"if-none-match": etag,
			"x-request-id": "req-hot-2",
		});
		expect(notModified.status).toBe(304);
		// Without a client id, a fresh one each time.
		const a = serveHotRead(HOT_READS, request("/v1/nations/KE", auth), env, background);
		const b = serveHotRead(HOT_READS, request("/v1/nations/KE", auth), env, background);
		expect(a?.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
		expect(a?.headers.get("x-request-id")).not.toBe(b?.headers.get("x-request-id"));
	});

	it("answers a warm project page as the pipeline does", async () => {
		const path = "/v1/projects?sector=energy&limit=5";
		const { auth } = await warmReader(path);
		await expectSameAnswer(path, { ...auth, "x-request-id": "req-hot-3" });
		// The same filters in another order and case share the page.
		await warmReader("/v1/projects?limit=5&sector=ENERGY");
		await expectSameAnswer("/v1/projects?limit=5&sector=ENERGY", { ...auth, "x-request-id": "req-hot-4" });
	});

	it("leaves everything else to the pipeline", async () => {
		const { auth } = await warmReader("/v1/nations/KE");
		const { auth: scoped } = await warmReader("/v1/projects?sector=energy&limit=5", "nation:KE");
		const fresh = { authorization: `Bearer ${await tokenFor("viewer", { sub: uniqueSub("cold") })}` };
		const declined: [string, Request][] = [
			["no credential", request("/v1/nations/KE")],
			["a token never verified here", request("/v1/nations/KE", fresh)],
			["an API key header", request("/v1/nations/KE", { ...auth, "x-api-key": "cov_test_x_y" })],
			["a malformed Authorization", request("/v1/nations/KE", { authorization: "Basic abc" })],
			["a consistency token", request("/v1/nations/KE", { ...auth, "consistency-token": "abc" })],
			["Accept without JSON", request("/v1/nations/KE", { ...auth, accept: "text/html" })],
			["an invalid code", request("/v1/nations/K1", auth)],
			["a nation not cached here", request("/v1/nations/ZZ", auth)],
			["a percent-encoded path", request("/v1/nations/%4BE", auth)],
			["a POST", request("/v1/nations/KE", auth, { method: "POST" })],
			["a HEAD", request("/v1/nations/KE", auth, { method: "HEAD" })],
			["a trailing slash", request("/v1/nations/KE/", auth)],
			["a repeated parameter", request("/v1/projects?sector=energy&sector=health", auth)],
			["an unknown parameter", request("/v1/projects?sector=energy&limit=5&x=1", auth)],
			["an encoded query", request("/v1/projects?sector=en%65rgy&limit=5", auth)],
			["a page not cached for this visibility", request("/v1/projects?sector=energy&limit=6", scoped)],
			["another route", request("/v1/sectors", auth)],
		];
		for (const [why, req] of declined)
			expect(serveHotRead(HOT_READS, req, env, background), why).toBeUndefined();
	});

	it("stops serving a token revoked elsewhere within a second", async () => {
		const sub = uniqueSub("hot-revoked");
		const jti = crypto.randomUUID();
		const token = await tokenFor("viewer", { sub, jti });
		const auth = { authorization: `Bearer ${token}` };
		for (let i = 0; i < 3; i++) expect((await call("/v1/nations/KE", { headers: auth })).status).toBe(200);
		expect(serveHotRead(HOT_READS, request("/v1/nations/KE", auth), env, background)).toBeInstanceOf(
			Response,
		);
		// Another edge revoked it: only the authority knows.
		await authAuthorityClient(env).revoke({
			kind: "jti",
			value: jti,
			revokedBefore: Date.now(),
			expiresAt: Date.now() + 3_600_000,
		});
		const elapsed = await msUntil(
			() => call("/v1/nations/KE", { headers: auth }),
			(response) => response.status === 401,
		);
		expect(elapsed).toBeLessThan(1_000);
		expect(serveHotRead(HOT_READS, request("/v1/nations/KE", auth), env, background)).toBeUndefined();
	});

	it("never admits more than the rate limit allows", async () => {
		// 600 units a minute, bursts of 50: leases of 5 (durable-objects/rate-limiter/client.ts).
		const limits = { RATE_LIMIT_PER_MINUTE: "600", RATE_LIMIT_BURST: "50" } as Partial<Env>;
		const auth = { authorization: `Bearer ${await tokenFor("viewer", { sub: uniqueSub("hot-limited") })}` };
		const started = Date.now();
		const statuses: number[] = [];
		for (let i = 0; i < 80; i++)
			statuses.push((await call("/v1/nations/KE", { headers: auth }, limits)).status);
		const seconds = (Date.now() - started) / 1000;
		const admitted = statuses.filter((s) => s === 200).length;
		expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
		// The bucket's size plus what refilled while the test ran, never more.
		expect(admitted).toBeLessThanOrEqual(50 + Math.ceil(seconds * 10));
	});

	it("renews the rate-limit lease before it runs out, in the background, so reads stay on the hot path", async () => {
		const realNow = rateLimitClock.now;
		let simulated = Date.now();
		rateLimitClock.now = () => simulated;
		try {
			const { auth } = await warmReader("/v1/nations/KE");
			expect(serveHotRead(HOT_READS, request("/v1/nations/KE", auth), env, background)).toBeInstanceOf(
				Response,
			);
			// 600 ms into a lease usable for 800: this answer starts the renewal.
			simulated += 600;
			const before = started.length;
			expect(serveHotRead(HOT_READS, request("/v1/nations/KE", auth), env, background)).toBeInstanceOf(
				Response,
			);
			expect(started.length).toBeGreaterThan(before);
			await Promise.all(started.splice(0));
			// Past the first lease's end: the renewed one answers.
			simulated += 400;
			expect(serveHotRead(HOT_READS, request("/v1/nations/KE", auth), env, background)).toBeInstanceOf(
				Response,
			);
		} finally {
			rateLimitClock.now = realNow;
		}
	});

	it("runs one lease renewal at a time per bucket, and none for a lease far from its end", async () => {
		const realNow = rateLimitClock.now;
		let simulated = Date.now();
		rateLimitClock.now = () => simulated;
		try {
			const renewals: Promise<unknown>[] = [];
			const counting = { waitUntil: (promise: Promise<unknown>) => void renewals.push(promise) };
			const policy = { perMinute: 600, burst: 100 }; // leases of 5, usable for 800 ms
			const key = `user:${uniqueSub("renew-bucket")}`;
			renewLeaseAhead(env, key, policy, counting);
			expect(renewals).toHaveLength(0); // nothing leased here yet
			expect((await takeRateLimit(env, key, 1, policy)).allowed).toBe(true);
			renewLeaseAhead(env, key, policy, counting);
			expect(renewals).toHaveLength(0); // 800 ms left
			simulated += 600;
			renewLeaseAhead(env, key, policy, counting);
			renewLeaseAhead(env, key, policy, counting);
			expect(renewals).toHaveLength(1);
			await Promise.all(renewals);
			simulated += 400; // the first lease has ended; the renewal's has not
			expect(takeFromLease(key, 1, policy)?.allowed).toBe(true);
		} finally {
			rateLimitClock.now = realNow;
		}
	});

	it("refreshes the revocation list before it goes stale, in the background, one refresh at a time", async () => {
		const sub = uniqueSub("hot-fresh");
		const token = await tokenFor("viewer", { sub });
		const auth = { authorization: `Bearer ${token}` };
		expect((await call("/v1/nations/KE", { headers: auth })).status).toBe(200);
		const claims = { sub, iat: Math.floor(Date.now() / 1000) - 1 };
		// The copy is fresh for 500 ms; at 350 ms a request starts its refresh.
		await new Promise((resolve) => setTimeout(resolve, 350));
		const refreshes: Promise<unknown>[] = [];
		const counting = { waitUntil: (promise: Promise<unknown>) => void refreshes.push(promise) };
		refreshRevocationsAhead(env, counting);
		refreshRevocationsAhead(env, counting);
		expect(refreshes).toHaveLength(1);
		await Promise.all(refreshes);
		// Fresh again: 400 ms from now is still inside the refreshed copy's 500 ms (not the old one's).
		expect(knownNotRevoked(claims, Date.now() + 400)).toBe(true);
		// Just refreshed: nothing to do.
		refreshRevocationsAhead(env, counting);
		expect(refreshes).toHaveLength(1);
	});
});
