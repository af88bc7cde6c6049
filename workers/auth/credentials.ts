import { authAuthorityClient } from "../../durable-objects/auth-authority/client.ts";
import type { KeyVerdict, RevocationDelta } from "../../durable-objects/auth-authority/object.ts";
import type { Background } from "../lib/context.ts";
import { ApiError } from "../lib/problem.ts";
import { digestsEqual, hashApiKey, keyEnvironmentFor, parseApiKey } from "./api-key-format.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { invalidToken } from "./jwt.ts";
import { Principal } from "./principal.ts";

/**
 * How stale an isolate's view of the authority may get. A revocation reaches every isolate within this plus
 * one round trip to the authority: comfortably inside the one second the platform promises.
 */
export const AUTHORITY_FRESH_MS = 500;

type ValidVerdict = Extract<KeyVerdict, { valid: true }>;

interface CachedKey {
	hash: string;
	verdict: ValidVerdict;
}

const keyCache = new BoundedCache<string, CachedKey>({ maxEntries: 5_000, maxBytes: 4_000_000 });

function authorityUnavailable(error: unknown): ApiError {
	console.error(JSON.stringify({ msg: "auth authority unreachable", error: String(error) }));
	return new ApiError(
		"unavailable",
		"Credentials cannot be checked right now (the authority is unreachable); retry shortly",
		{ headers: { "retry-after": "1" } },
	);
}

const KEY_REFUSALS: Record<Exclude<KeyVerdict, { valid: true }>["reason"], string> = {
	unknown: "The API key is not valid",
	mismatch: "The API key is not valid",
	revoked: "The API key has been revoked",
	expired: "The API key has expired",
};

/**
 * Resolves a partner API key (`cov_<env>_<id>_<secret>`) to its principal, checked against the authority
 * (answers reused for at most AUTHORITY_FRESH_MS in this isolate, and never past the key's expiry or the end
 * of a rotation's grace period).
 */
export async function authenticateApiKey(
	env: Pick<Env, "ENVIRONMENT" | "AUTH_AUTHORITY">,
	credential: string,
): Promise<Principal> {
	const parsed = parseApiKey(credential);
	if (!parsed) throw invalidToken("The API key is malformed");
	const expected = keyEnvironmentFor(env.ENVIRONMENT);
	if (parsed.environment !== expected) {
		throw invalidToken(
			`This deployment accepts cov_${expected}_ keys only; this is a cov_${parsed.environment}_ key`,
		);
	}
	const hash = await hashApiKey(credential);
	const now = Date.now();
	const cached = keyCache.get(parsed.id, now);
	let verdict: KeyVerdict;
	if (cached && digestsEqual(cached.hash, hash)) {
		verdict = cached.verdict;
	} else {
		try {
			verdict = await authAuthorityClient(env).verifyApiKey(parsed.id, hash);
		} catch (error) {
			throw authorityUnavailable(error);
		}
		if (verdict.valid) {
			const ttl = Math.min(AUTHORITY_FRESH_MS, verdict.validUntil - now);
			if (ttl > 0) keyCache.set(parsed.id, { hash, verdict }, ttl, now);
		}
	}
	if (!verdict.valid) throw invalidToken(KEY_REFUSALS[verdict.reason]);
	const { key } = verdict;
	return new Principal(
		"api_key",
		key.id,
		key.scopes.join(" "),
		{},
		{
			subject: key.ownerSub,
			rateLimit:
				key.rateLimitPerMinute !== null && key.rateLimitBurst !== null
					? { perMinute: key.rateLimitPerMinute, burst: key.rateLimitBurst }
					: undefined,
		},
	);
}

/** Drops this isolate's cached answer for a key (after this isolate changed it: effective here at once). */
export function forgetApiKey(id: string): void {
	keyCache.delete(id);
}

// ---- Token revocations -------------------------------------------------------------------------------

interface SubjectRevocation {
	revokedBefore: number;
	expiresAt: number;
}

interface RevocationSnapshot {
	epoch: string;
	seq: number;
	fetchedAt: number;
	prunedAt: number;
	jtis: Map<string, number>;
	subjects: Map<string, SubjectRevocation>;
}

/**
 * This isolate's copy of the live revocation list, refreshed by delta from the authority when older than
 * AUTHORITY_FRESH_MS. Bounded: the authority holds at most MAX_ACTIVE_REVOCATIONS active entries, and expired
 * ones are pruned here too.
 */
let snapshot: RevocationSnapshot | undefined;
const PRUNE_EVERY_MS = 60_000;

/**
 * A copy this close to going stale is refreshed in the background by the request that notices, so the hot
 * path keeps finding it fresh. Without it, every request in flight when the copy went stale took the full
 * pipeline and asked the authority itself (each 500 ms, 32 round trips for 32 concurrent clients).
 */
const REFRESH_AHEAD_MS = 200;
/** A refresh running longer than this is presumed lost (its request was cancelled); another may start. */
const REFRESH_GIVE_UP_MS = 2_000;
let refreshingSince: number | undefined;

/**
 * Starts a background refresh of the revocation list when this isolate's copy is older than
 * AUTHORITY_FRESH_MS - REFRESH_AHEAD_MS and no refresh is running. It runs in `waitUntil` of the request that
 * noticed (its I/O belongs to that request); the copy it leaves is plain data every request reads. A failed
 * refresh changes nothing: once the copy is stale, requests check with the authority as before.
 */
export function refreshRevocationsAhead(
	env: Pick<Env, "AUTH_AUTHORITY">,
	ctx: Background,
	now = Date.now(),
): void {
	if (!snapshot || now - snapshot.fetchedAt < AUTHORITY_FRESH_MS - REFRESH_AHEAD_MS) return;
	if (refreshingSince !== undefined && now - refreshingSince < REFRESH_GIVE_UP_MS) return;
	const startedAt = now;
	refreshingSince = startedAt;
	ctx.waitUntil(
		currentRevocations(env, AUTHORITY_FRESH_MS - REFRESH_AHEAD_MS)
			.catch(() => {}) // logged by authorityUnavailable
			.finally(() => {
				if (refreshingSince === startedAt) refreshingSince = undefined;
			}),
	);
}

async function currentRevocations(
	env: Pick<Env, "AUTH_AUTHORITY">,
	maxAgeMs = AUTHORITY_FRESH_MS,
): Promise<RevocationSnapshot> {
	const now = Date.now();
	if (snapshot && now - snapshot.fetchedAt < maxAgeMs) return snapshot;
	const stub = authAuthorityClient(env);
	let working = snapshot;
	try {
		for (let page = 0; page < 20; page++) {
			const delta: RevocationDelta = await stub.revocationsSince(working?.seq ?? 0, working?.epoch);
			if (!working || working.epoch !== delta.epoch) {
				working = {
					epoch: delta.epoch,
					seq: 0,
					fetchedAt: 0,
					prunedAt: now,
					jtis: new Map(),
					subjects: new Map(),
				};
			}
			for (const entry of delta.entries) {
				if (entry.kind === "jti") working.jtis.set(entry.value, entry.expiresAt);
				else
					working.subjects.set(entry.value, {
						revokedBefore: entry.revokedBefore,
						expiresAt: entry.expiresAt,
					});
			}
			working.seq = Math.max(working.seq, delta.seq);
			if (!delta.more) break;
		}
	} catch (error) {
		throw authorityUnavailable(error);
	}
	if (!working) throw authorityUnavailable("no revocation list");
	working.fetchedAt = now;
	if (now - working.prunedAt > PRUNE_EVERY_MS) {
		for (const [jti, expiresAt] of working.jtis) if (expiresAt <= now) working.jtis.delete(jti);
		for (const [sub, entry] of working.subjects) if (entry.expiresAt <= now) working.subjects.delete(sub);
		working.prunedAt = now;
	}
	snapshot = working;
	return working;
}

/**
 * Refuses (401) a token revoked by its `jti`, or issued at or before its subject's revocation cutoff. Fails
 * closed (503) when the authority cannot be reached and the local copy is stale.
 */
export async function assertTokenNotRevoked(
	env: Pick<Env, "AUTH_AUTHORITY">,
	claims: { jti?: string; sub: string; iat: number },
): Promise<void> {
	const reason = revocationOf(await currentRevocations(env), claims, Date.now());
	if (reason) throw invalidToken(reason);
}

/**
 * Whether this isolate's copy of the revocation list, while it is fresh (younger than AUTHORITY_FRESH_MS),
 * says the token is not revoked: true, or undefined when the copy is stale or the token is revoked (the
 * caller then takes the path of `assertTokenNotRevoked`). Synchronous: for the isolate hot path.
 */
export function knownNotRevoked(
	claims: { jti?: string; sub: string; iat: number },
	now = Date.now(),
): true | undefined {
	if (!snapshot || now - snapshot.fetchedAt >= AUTHORITY_FRESH_MS) return undefined;
	return revocationOf(snapshot, claims, now) === undefined ? true : undefined;
}

/** Why the token is revoked according to `revoked`, or undefined when it is not. */
function revocationOf(
	revoked: RevocationSnapshot,
	claims: { jti?: string; sub: string; iat: number },
	now: number,
): string | undefined {
	if (claims.jti) {
		const until = revoked.jtis.get(claims.jti);
		if (until !== undefined && until > now) return "The token has been revoked";
	}
	const subject = revoked.subjects.get(claims.sub);
	if (subject && subject.expiresAt > now && claims.iat * 1000 <= subject.revokedBefore) {
		return "The token has been revoked (every session of its subject was ended); sign in again";
	}
	return undefined;
}

/** After this isolate revoked something, its next check asks the authority (effective here at once). */
export function markRevocationsStale(): void {
	if (snapshot) snapshot.fetchedAt = 0;
}
