import { ApiError } from "../lib/problem.ts";
import { type CacheConfig, cacheConfig, ISOLATE_RECHECK_MS } from "./config.ts";
import type { CacheEntry } from "./entry.ts";
import { entryBytes, fromKv } from "./entry.ts";
import { type IsolateSlot, isolateEntries } from "./isolate.ts";
import { type CachedResource, dependentKey } from "./keys.ts";
import { isDatabaseUnavailable, rootCause } from "./origin.ts";
import { listVersion } from "./versions.ts";
import { putIfNewer } from "./write-through.ts";

/** HIT: served from the isolate or KV, fresh. MISS: read from Postgres. STALE: past freshness, Postgres down. */
export type CacheStatus = "HIT" | "MISS" | "STALE";

export interface CacheRead {
	status: CacheStatus;
	entry: CacheEntry;
	/** Whole seconds since Postgres produced the representation (the HTTP `Age`). */
	ageSeconds: number;
}

export type CacheEnv = Pick<Env, "CACHE" | "CACHE_FRESH_SECONDS" | "CACHE_STALE_SECONDS" | "DATABASE_URL">;

/**
 * After Postgres was found unreachable, stale entries are served without trying it again for this long, so
 * an outage does not add a failed connection attempt to every read. Keyed by database URL.
 */
const ORIGIN_RETRY_MS = 5_000;
const originDownUntil = new Map<string, number>();
/**
 * Postgres reads in progress in this isolate: cache key -> when the read started (bounded by the requests in
 * flight). A marker, never the read's promise: in Workers an I/O promise belongs to the request that made it,
 * and a request awaiting another request's promise resumes in that request's context (its response then fails
 * with "Cannot perform I/O on behalf of a different request") or, having no I/O of its own pending, is
 * cancelled as hung. So a request that finds a read in flight waits on its own timer and then takes the result
 * from the isolate LRU, where the reading request put it.
 */
const loadsInFlight = new Map<string, number>();
/** How often a waiting request looks for the result of another request's read. */
const JOIN_POLL_MS = 5;
/** A read in flight longer than this is not waited for (it is slow, or its request was cancelled). */
const JOIN_WAIT_MS = 2_000;

export interface ReadThroughOptions {
	/** From `itemKey` or `dependentKey`. */
	key: string;
	/** Reads the representation from Postgres; null when it does not exist (a 404 is never cached). */
	load: () => Promise<CacheEntry | null>;
	/** The least row version acceptable, from a consistency token: older cached entries are skipped. */
	minVersion?: number;
	/** False when the read must not be cached (its key is not current at this location yet). */
	store?: boolean;
	/** The request's `ctx.waitUntil`: a miss fills KV after the response. */
	waitUntil: (promise: Promise<unknown>) => void;
}

/**
 * Reads through the three tiers: in-isolate LRU, then Workers KV, then Postgres (`load`), filling the isolate
 * at once and KV in `waitUntil` on a miss. A fresh entry is served without touching Postgres. When Postgres
 * is unreachable, the newest servable entry is returned as STALE (up to CACHE_STALE_SECONDS past freshness);
 * without one the read fails with a 503 problem. Any other Postgres error propagates: stale data must not
 * hide a bug. Returns null when the row does not exist.
 */
export async function readThrough(env: CacheEnv, options: ReadThroughOptions): Promise<CacheRead | null> {
	const config = cacheConfig(env);
	const now = Date.now();
	const { key } = options;
	const minVersion = options.minVersion ?? 0;
	const store = options.store ?? true;
	const acceptable = (entry: CacheEntry | undefined): entry is CacheEntry =>
		entry !== undefined && (entry.version ?? Number.MAX_SAFE_INTEGER) >= minVersion;

	const slot = store ? isolateEntries.get(key) : undefined;
	if (slot && acceptable(slot.entry) && isolateFresh(slot, now, config))
		return served("HIT", slot.entry, now);

	let fromKvEntry: CacheEntry | undefined;
	if (store) {
		try {
			const { value, metadata } = await env.CACHE.getWithMetadata(key);
			fromKvEntry = fromKv(value, metadata);
		} catch (error) {
			// KV being down costs speed, never correctness: fall through to Postgres.
			console.error(JSON.stringify({ msg: "cache: KV read failed", key, error: String(error) }));
		}
	}
	const candidate = newest([slot?.entry, fromKvEntry].filter(acceptable));
	if (candidate && isFresh(candidate, now, config)) {
		isolateEntries.set(key, { entry: candidate, checkedAt: now }, entryBytes(key, candidate));
		return served("HIT", candidate, now);
	}

	const servableStale = candidate && now - candidate.storedAt < config.freshMs + config.staleMs;
	if (servableStale && (originDownUntil.get(env.DATABASE_URL) ?? 0) > now) {
		return served("STALE", candidate, now);
	}
	// Concurrent misses of one key in this isolate share one Postgres read (no stampede when a hot entry expires
	// or an edge starts cold). Only plain reads join: one that needs a minimum version, or must not be cached,
	// reads for itself. The first reader fills the caches for all of them.
	const shared = store && minVersion === 0;
	if (shared && (await awaitOtherRead(key))) {
		const joined = isolateEntries.get(key);
		if (joined && joined.checkedAt >= now && acceptable(joined.entry))
			return served("MISS", joined.entry, now);
		// The other read found Postgres down: answer as it did, without another failed connection attempt.
		if ((originDownUntil.get(env.DATABASE_URL) ?? 0) > Date.now()) {
			if (servableStale) return served("STALE", candidate, now);
			throw databaseUnavailable();
		}
		// It found nothing, failed otherwise, or its entry was evicted already: read for ourselves.
	}
	const readStartedAt = Date.now();
	if (shared) loadsInFlight.set(key, readStartedAt);
	let loaded: CacheEntry | null;
	try {
		loaded = await options.load();
		originDownUntil.delete(env.DATABASE_URL);
	} catch (error) {
		if (!isDatabaseUnavailable(error)) throw error;
		console.warn(JSON.stringify({ msg: "cache: Postgres unreachable", key, error: rootCause(error) }));
		originDownUntil.set(env.DATABASE_URL, Date.now() + ORIGIN_RETRY_MS);
		if (servableStale) return served("STALE", candidate, now);
		throw databaseUnavailable();
	} finally {
		// Only our own marker: one that outlasted JOIN_WAIT_MS may have been replaced by a newer read's.
		if (shared && loadsInFlight.get(key) === readStartedAt) loadsInFlight.delete(key);
	}
	if (loaded === null) {
		// Gone from Postgres (e.g. soft-deleted out of band): make sure no tier keeps serving it.
		isolateEntries.delete(key);
		if (fromKvEntry) options.waitUntil(env.CACHE.delete(key).catch(() => {}));
		return null;
	}
	if (store) {
		// Confirmed now, after the read: a request that waited for this read looks for an entry checked since it began.
		isolateEntries.set(key, { entry: loaded, checkedAt: Date.now() }, entryBytes(key, loaded));
		// putIfNewer logs its own failures; a failed fill only costs a later miss.
		options.waitUntil(putIfNewer(env, key, loaded).catch(() => {}));
	}
	return served("MISS", loaded, now);
}

function databaseUnavailable(): ApiError {
	return new ApiError(
		"unavailable",
		"The database cannot be reached and this representation is not cached at this location; retry shortly",
		{ headers: { "retry-after": "5" } },
	);
}

/**
 * Waits, on this request's own timer, while another request of this isolate reads `key` from Postgres.
 * True when there was such a read and it ended (its result, if any, is in the isolate LRU); false when there
 * was none or it outlasted JOIN_WAIT_MS.
 */
async function awaitOtherRead(key: string): Promise<boolean> {
	const startedAt = loadsInFlight.get(key);
	if (startedAt === undefined) return false;
	while (loadsInFlight.get(key) === startedAt) {
		if (Date.now() - startedAt >= JOIN_WAIT_MS) return false;
		await new Promise((resolve) => setTimeout(resolve, JOIN_POLL_MS));
	}
	return true;
}

/** Whether an isolate slot may be served without looking further: confirmed recently, and fresh. */
function isolateFresh(slot: IsolateSlot, now: number, config: CacheConfig): boolean {
	return now - slot.checkedAt < ISOLATE_RECHECK_MS && isFresh(slot.entry, now, config);
}

/**
 * The HIT `readThrough` would answer from this isolate's LRU for a plain read of `key` (no minimum version,
 * cacheable), or undefined when it would look further (KV, Postgres). Synchronous: for the isolate hot path.
 */
export function isolateHit(env: CacheEnv, key: string, now = Date.now()): CacheRead | undefined {
	const slot = isolateEntries.get(key);
	if (!slot) return undefined;
	return isolateFresh(slot, now, cacheConfig(env)) ? served("HIT", slot.entry, now) : undefined;
}

export interface DependentReadOptions extends Omit<ReadThroughOptions, "key" | "store" | "minVersion"> {
	resource: CachedResource;
	/** The resources whose writes change this page or aggregate (usually just `resource`). */
	dependsOn: readonly CachedResource[];
	/** From `canonicalQuery`: filters, cursor, limit, and the caller's visibility when rows are scoped. */
	query: string;
	/** Per dependency, the least list version acceptable (from a consistency token). */
	minVersions?: readonly number[];
}

/**
 * A list page or aggregate: keyed by the current list versions of everything it depends on, so a write that
 * bumps one of them makes the old page unreachable. If this location has not yet seen the version a
 * consistency token asks for, the page is read from Postgres and not cached.
 */
export async function readDependent(env: CacheEnv, options: DependentReadOptions): Promise<CacheRead | null> {
	const versions = await Promise.all(
		options.dependsOn.map((resource, i) => listVersion(env, resource, options.minVersions?.[i] ?? 0)),
	);
	const current = versions.every((v) => v !== undefined);
	const key = await dependentKey(
		options.resource,
		versions.map((v) => v ?? 0),
		options.query,
	);
	return readThrough(env, { key, load: options.load, waitUntil: options.waitUntil, store: current });
}

function isFresh(entry: CacheEntry, now: number, config: CacheConfig): boolean {
	return now - entry.storedAt < config.freshMs;
}

/** The newer of two entries: by row version when both have one, else by when Postgres produced them. */
function newest(entries: CacheEntry[]): CacheEntry | undefined {
	let best: CacheEntry | undefined;
	for (const entry of entries) {
		if (!best) best = entry;
		else if (entry.version !== undefined && best.version !== undefined && entry.version !== best.version) {
			if (entry.version > best.version) best = entry;
		} else if (entry.storedAt > best.storedAt) best = entry;
	}
	return best;
}

function served(status: CacheStatus, entry: CacheEntry, now: number): CacheRead {
	return { status, entry, ageSeconds: Math.max(0, Math.floor((now - entry.storedAt) / 1000)) };
}
