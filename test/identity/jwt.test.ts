import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { JWKS_CACHE_MAX_AGE_MS, MAX_TOKEN_LIFETIME_SECONDS } from "../../workers/auth/jwt.ts";
import type { UserResponse } from "../../workers/routes/me/schema.ts";
import { tokenFor, uniqueSub } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import { problem } from "./helpers.ts";

const now = () => Math.floor(Date.now() / 1000);
const me = (token: string, envOverrides: Partial<Env> = {}) =>
	call("/v1/me", { headers: { authorization: `Bearer ${token}` } }, envOverrides);

afterEach(() => {
	vi.restoreAllMocks();
	vi.useRealTimers();
});

describe("bearer JWT verification", () => {
	it("accepts typ at+jwt, application/at+jwt and JWT; refuses a missing or other typ", async () => {
		for (const typ of ["at+jwt", "application/at+jwt", "JWT"]) {
			expect((await me(await tokenFor("", { sub: uniqueSub(), typ }))).status, typ).toBe(200);
		}
		for (const typ of [null, "id+jwt", "dpop+jwt"]) {
			const response = await me(await tokenFor("", { sub: uniqueSub(), typ }));
			expect(response.status, String(typ)).toBe(401);
			expect((await problem(response)).detail).toMatch(/typ/);
		}
	});

	it("accepts a token without typ only where configured (Okta custom authorization servers)", async () => {
		const okta = { AUTH_TOKEN_TYPES: "at+jwt,jwt,none" } as Partial<Env>;
		expect((await me(await tokenFor("", { sub: uniqueSub(), typ: null }), okta)).status).toBe(200);
		expect((await me(await tokenFor("", { sub: uniqueSub(), typ: "id+jwt" }), okta)).status).toBe(401);
		const strict = { AUTH_TOKEN_TYPES: "at+jwt" } as Partial<Env>;
		expect((await me(await tokenFor("", { sub: uniqueSub(), typ: "JWT" }), strict)).status).toBe(401);
	});

	it("tolerates clock skew up to 30 s, and no more", async () => {
		const within = await tokenFor("", { sub: uniqueSub(), iat: now() - 300, exp: now() - 20 });
		expect((await me(within)).status).toBe(200);
		const beyond = await tokenFor("", { sub: uniqueSub(), iat: now() - 300, exp: now() - 61 });
		const response = await me(beyond);
		expect(response.status).toBe(401);
		expect((await problem(response)).detail).toBe("The token has expired");
		const notYet = await tokenFor("", { sub: uniqueSub(), nbf: now() + 120 });
		expect((await me(notYet)).status).toBe(401);
		const issuedInTheFuture = await tokenFor("", { sub: uniqueSub(), iat: now() + 120, exp: now() + 600 });
		expect((await me(issuedInTheFuture)).status).toBe(401);
	});

	it("refuses tokens that live longer than the lifetime cap (revocations must outlive every token)", async () => {
		const long = await tokenFor("", {
			sub: uniqueSub(),
			iat: now(),
			exp: now() + MAX_TOKEN_LIFETIME_SECONDS + 3600,
		});
		const response = await me(long);
		expect(response.status).toBe(401);
		expect((await problem(response)).detail).toMatch(/lifetime/);
	});

	it("requires sub, and answers 401 with a WWW-Authenticate challenge", async () => {
		const response = await call("/v1/me");
		expect(response.status).toBe(401);
		expect(response.headers.get("www-authenticate")).toBe('Bearer realm="covenant"');
		const lowercase = await call("/v1/me", {
			headers: { authorization: `bearer ${await tokenFor("", { sub: uniqueSub() })}` },
		});
		expect(lowercase.status).toBe(200);
	});

	it("reads scopes from scope, scp (Okta) and permissions (Auth0)", async () => {
		for (const claims of [{ scp: ["admin"] }, { scp: "admin" }, { permissions: ["users:read"] }]) {
			const token = await tokenFor("", { sub: uniqueSub(), claims });
			expect(
				(await call("/v1/users?limit=1", { headers: { authorization: `Bearer ${token}` } })).status,
			).toBe(200);
		}
		const none = await tokenFor("", { sub: uniqueSub() });
		expect((await call("/v1/users?limit=1", { headers: { authorization: `Bearer ${none}` } })).status).toBe(
			403,
		);
	});

	it("uses cached signing keys while the issuer is down, and fails closed once they expire", async () => {
		// A JWKS URL of its own (the fragment never reaches the issuer) gives this test a fresh key cache.
		const overrides = { AUTH_JWKS_URL: `${env.AUTH_JWKS_URL}#outage-${crypto.randomUUID()}` } as Partial<Env>;
		const sub = uniqueSub();
		expect((await me(await tokenFor("", { sub }), overrides)).status).toBe(200);

		const realFetch = globalThis.fetch;
		const jwksFetches: string[] = [];
		vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
			const url = input instanceof Request ? input.url : String(input);
			if (url.includes("/.well-known/jwks.json")) {
				jwksFetches.push(url);
				return Promise.reject(new TypeError("Network connection lost."));
			}
			return realFetch(input, init);
		});
		expect((await me(await tokenFor("", { sub }), overrides)).status).toBe(200);
		expect(jwksFetches).toEqual([]);

		vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + JWKS_CACHE_MAX_AGE_MS + 1_000 });
		const failed = await me(await tokenFor("", { sub }), overrides);
		expect(failed.status).toBe(503);
		expect(failed.headers.get("retry-after")).toBeTruthy();
		expect((await problem(failed)).detail).toMatch(/signing keys cannot be fetched/);
		expect(jwksFetches.length).toBeGreaterThan(0);

		vi.mocked(globalThis.fetch).mockRestore();
		expect((await me(await tokenFor("", { sub }), overrides)).status).toBe(200);
	});

	it("fails closed when the issuer has never been reachable", async () => {
		const response = await me(await tokenFor("", { sub: uniqueSub() }), {
			AUTH_JWKS_URL: "http://127.0.0.1:1/.well-known/jwks.json",
		} as Partial<Env>);
		expect(response.status).toBe(503);
	});

	it("refuses to trust a plain-http or loopback issuer in production", async () => {
		const response = await me(await tokenFor("", { sub: uniqueSub() }), {
			ENVIRONMENT: "production",
			NEON_WS_PROXY: undefined,
		} as Partial<Env>);
		expect(response.status).toBe(503);
		expect((await problem(response)).detail).toMatch(/misconfigured/);
	});
});

describe("user provisioning from the token", () => {
	it("takes email, name and a namespaced home_region claim", async () => {
		const sub = uniqueSub();
		const token = await tokenFor("", {
			sub,
			claims: {
				email: "wanjiru@example.org",
				name: "Wanjiru K.",
				"https://covenant.example/home_region": "jnb",
			},
		});
		const user = await json<UserResponse>(await me(token));
		expect(user).toMatchObject({ sub, email: "wanjiru@example.org", name: "Wanjiru K.", home_region: "jnb" });
	});
});
