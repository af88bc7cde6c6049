import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { addressKey, resetFailedCredentialBlocks } from "../../workers/auth/failed-credentials.ts";
import { tokenFor, uniqueSub } from "../support/auth.ts";
import { call } from "../support/http.ts";
import { problem } from "./helpers.ts";

// workers/auth/failed-credentials.ts: failed credentials are counted per client address (Cloudflare's rate
// limiting binding); past the budget the address is answered 429 before any verification, except for tokens
// this isolate already verified. The suite binds a limiter of 3 failures a minute (vitest.config.mts).

const tight = {
	FAILED_AUTH_LIMITER: (env as unknown as { TIGHT_FAILED_AUTH_LIMITER: RateLimit }).TIGHT_FAILED_AUTH_LIMITER,
} as Partial<Env>;

afterEach(() => resetFailedCredentialBlocks());

/** An address of this test alone: the limiter's counts outlive a test. */
function uniqueAddress(): string {
	const byte = () => Math.floor(Math.random() * 254) + 1;
	return `10.${byte()}.${byte()}.${byte()}`;
}

function from(address: string, headers: Record<string, string> = {}) {
	return { headers: { "cf-connecting-ip": address, ...headers } };
}

const BAD_TOKEN = { authorization: "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl" };

async function statusesOf(
	count: number,
	address: string,
	headers: Record<string, string>,
	overrides = tight,
) {
	const statuses: number[] = [];
	for (let i = 0; i < count; i++)
		statuses.push((await call("/v1/nations/KE", from(address, headers), overrides)).status);
	return statuses;
}

/** Spends the address's budget with bad tokens until it is answered 429. */
async function block(address: string): Promise<Response> {
	for (let i = 0; i < 20; i++) {
		const response = await call("/v1/nations/KE", from(address, BAD_TOKEN), tight);
		if (response.status === 429) return response;
		expect(response.status).toBe(401);
	}
	throw new Error(`${address} was never blocked`);
}

describe("failed credentials per address", () => {
	it("answers 429 problem+json once an address has spent its budget, and only that address", async () => {
		const address = uniqueAddress();
		const statuses = await statusesOf(10, address, BAD_TOKEN);
		const refused = statuses.filter((s) => s === 401).length;
		// 3 a minute; a minute boundary crossed during the test can allow 3 more, never more than that.
		expect(refused).toBeGreaterThanOrEqual(3);
		expect(refused).toBeLessThanOrEqual(6);
		expect(statuses.slice(refused)).toEqual(Array(10 - refused).fill(429));
		const response = await call("/v1/nations/KE", from(address, BAD_TOKEN), tight);
		expect(response.status).toBe(429);
		expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
		expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
		expect(await problem(response)).toMatchObject({ status: 429, code: "rate_limited" });
		// Requests without any credential count and are refused too.
		expect((await call("/v1/nations/KE", from(address), tight)).status).toBe(429);
		// Another address is untouched.
		expect((await call("/v1/nations/KE", from(uniqueAddress(), BAD_TOKEN), tight)).status).toBe(401);
	});

	it("keeps accepting a token this isolate already verified from a blocked address, not a new one", async () => {
		const known = { authorization: `Bearer ${await tokenFor("viewer", { sub: uniqueSub("known") })}` };
		expect((await call("/v1/nations/KE", from(uniqueAddress(), known), tight)).status).toBe(200);
		const address = uniqueAddress();
		await block(address);
		expect((await call("/v1/nations/KE", from(address, known), tight)).status).toBe(200);
		const fresh = { authorization: `Bearer ${await tokenFor("viewer", { sub: uniqueSub("fresh") })}` };
		expect((await call("/v1/nations/KE", from(address, fresh), tight)).status).toBe(429);
	});

	it("never counts accepted requests", async () => {
		const address = uniqueAddress();
		const valid = { authorization: `Bearer ${await tokenFor("viewer", { sub: uniqueSub("valid") })}` };
		expect(await statusesOf(10, address, valid)).toEqual(Array(10).fill(200));
		// The whole failure budget is still there.
		expect((await statusesOf(3, address, BAD_TOKEN)).every((s) => s === 401)).toBe(true);
	});

	it("counts an IPv6 address by its /64", async () => {
		expect(addressKey(new Headers({ "cf-connecting-ip": "2001:db8:1:2:aaaa::1" }))).toBe(
			addressKey(new Headers({ "cf-connecting-ip": "2001:0DB8:0001:0002:bbbb:0:0:2" })),
		);
		expect(addressKey(new Headers({ "cf-connecting-ip": "2001:db8:1:3::1" }))).not.toBe(
			addressKey(new Headers({ "cf-connecting-ip": "2001:db8:1:2::1" })),
		);
		expect(addressKey(new Headers({ "cf-connecting-ip": "::1" }))).toBe("0:0:0:0::/64");
		expect(addressKey(new Headers({ "cf-connecting-ip": "192.0.2.7" }))).toBe("192.0.2.7");
		expect(addressKey(new Headers())).toBe("unknown");
		const network = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:7`;
		await block(`${network}::1`);
		expect((await call("/v1/nations/KE", from(`${network}:ffff::9`, BAD_TOKEN), tight)).status).toBe(429);
	});

	it("lets failures through as 401 when the limiter cannot be reached", async () => {
		const down = {
			FAILED_AUTH_LIMITER: {
				limit: async () => {
					throw new Error("limiter down");
				},
			},
		} as unknown as Partial<Env>;
		expect(await statusesOf(6, uniqueAddress(), BAD_TOKEN, down)).toEqual(Array(6).fill(401));
	});
});
