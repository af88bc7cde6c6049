import { ApiError } from "../lib/problem.ts";
import { BoundedCache } from "./bounded-cache.ts";

/**
 * Limits requests whose credential fails (no credential, a malformed one, a bad signature, an unknown or revoked
 * key) per client address, so nobody can make the edge verify signatures or ask the authority for free: an ES256
 * verification costs ~200 µs of CPU, an unknown API key a round trip to the authority.
 *
 * Only failures are counted (a 401 spends one unit of the address's budget in the `FAILED_AUTH_LIMITER` binding,
 * Cloudflare's per-location rate limiter), so accepted requests never pay for it. When the binding says the
 * budget is spent, this isolate remembers the address for the binding's period and answers its requests 429
 * before any verification, except those carrying a token this isolate has already verified (`exempt`), which
 * cost nothing to accept. A person whose new token first reaches an isolate from a blocked address waits for the
 * period to end like everyone there; the budget (wrangler.toml) is far above what a person's mistakes produce.
 *
 * If the binding cannot be reached, failures are not counted (logged): the per-principal limits behind
 * authentication are unaffected, and refusing every stranger because a counter is down would be worse.
 */

/** How long an address whose budget the binding refused is answered 429 here: the binding's period. */
const BLOCK_MS = 60_000;

/** Addresses refused by the binding, until when: bounded, so a flood of addresses cannot grow it. */
const blockedAddresses = new BoundedCache<string, number>({ maxEntries: 10_000, maxBytes: 1_000_000 });

/** Requests carry no `cf-connecting-ip` locally (dev, tests): they share one budget. */
const UNKNOWN_ADDRESS = "unknown";

/**
 * The key an address is counted under: an IPv4 address as is, an IPv6 address as its /64 (one subscriber's
 * network: a host can pick any of its 2^64 addresses).
 */
export function addressKey(headers: Headers): string {
	const address = headers.get("cf-connecting-ip")?.trim().toLowerCase();
	if (!address) return UNKNOWN_ADDRESS;
	if (!address.includes(":")) return address;
	return `${ipv6Groups(address).slice(0, 4).join(":")}::/64`;
}

/** The eight groups of an IPv6 address (`::` expanded, leading zeros dropped); garbage in, stable garbage out. */
function ipv6Groups(address: string): string[] {
	const [head = "", tail] = address.split("::", 2);
	const left = head ? head.split(":") : [];
	const right = tail ? tail.split(":") : [];
	const missing = tail === undefined ? 0 : Math.max(0, 8 - left.length - right.length);
	return [...left, ...Array.from({ length: missing }, () => "0"), ...right].map(
		(group) => group.replace(/^0+(?=.)/, "") || "0",
	);
}

/**
 * Throws 429 when this isolate knows the address has spent its failure budget, unless `exempt()` says the
 * request carries a credential that costs nothing to accept. Synchronous, no I/O; `exempt` runs only for a
 * blocked address.
 */
export function refuseBlockedAddress(
	key: string,
	exempt: () => boolean = () => false,
	now = Date.now(),
): void {
	const until = blockedAddresses.get(key, now);
	if (until === undefined || exempt()) return;
	throw tooManyFailures(Math.ceil((until - now) / 1000));
}

/**
 * Counts one failed credential for the address; when the binding refuses, the address is blocked here for
 * BLOCK_MS. Never throws: the caller answers the failure it had (401) either way.
 */
export async function countFailedCredential(
	env: Pick<Env, "FAILED_AUTH_LIMITER">,
	key: string,
	now = Date.now(),
): Promise<void> {
	try {
		const { success } = await env.FAILED_AUTH_LIMITER.limit({ key });
		if (!success) blockedAddresses.set(key, now + BLOCK_MS, BLOCK_MS, now);
	} catch (error) {
		console.error(JSON.stringify({ msg: "failed-credential limiter unreachable", error: String(error) }));
	}
}

function tooManyFailures(retryAfterSeconds: number): ApiError {
	const seconds = Math.max(1, retryAfterSeconds);
	return new ApiError(
		"rate_limited",
		`Too many requests with a missing or invalid credential from this address; retry after ${seconds} s`,
		{ headers: { "retry-after": String(seconds) }, extensions: { retry_after_seconds: seconds } },
	);
}

/** Forgets the blocked addresses: for tests. */
export function resetFailedCredentialBlocks(): void {
	blockedAddresses.clear();
}
