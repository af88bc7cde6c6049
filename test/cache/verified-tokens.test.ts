import { afterEach, describe, expect, it, vi } from "vitest";
import { VERIFIED_TOKEN_TTL_MS } from "../../workers/auth/jwt.ts";
import { tokenFor, uniqueSub } from "../support/auth.ts";
import { call } from "../support/http.ts";

// workers/auth/jwt.ts keeps tokens it verified for a while (added for the read API's hot path): these prove
// the cache never stretches a token's validity.
afterEach(() => vi.useRealTimers());

const read = (token: string) => call("/v1/nations/KE", { headers: { authorization: `Bearer ${token}` } });

describe("the verified-token cache", () => {
	it("refuses a cached token once it has expired", async () => {
		const token = await tokenFor("viewer", { sub: uniqueSub("expiring"), expiresIn: "10s" });
		expect((await read(token)).status).toBe(200);
		expect((await read(token)).status).toBe(200);
		// Past exp and the 30 s clock tolerance, yet inside the cache's own lifetime: only the exp cap refuses it.
		vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 45_000 });
		expect(45_000).toBeLessThan(VERIFIED_TOKEN_TTL_MS);
		const response = await read(token);
		expect(response.status).toBe(401);
		expect(((await response.json()) as { detail: string }).detail).toBe("The token has expired");
	});

	it("never serves one configuration's verification to another", async () => {
		const token = await tokenFor("viewer", { sub: uniqueSub("audience") });
		expect((await read(token)).status).toBe(200);
		const otherAudience = await call("/v1/nations/KE", { headers: { authorization: `Bearer ${token}` } }, {
			AUTH_AUDIENCE: "https://another.example",
		} as Partial<Env>);
		expect(otherAudience.status).toBe(401);
	});
});
