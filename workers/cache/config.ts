/**
 * The read cache's tunables. The two lifetimes come from wrangler.toml vars so an operator can change them per
 * deploy; the isolate bounds are constants because they protect the isolate's 128 MB, not a policy.
 */
export interface CacheConfig {
	/** How long (ms) an entry is served without asking Postgres. */
	freshMs: number;
	/** How long (ms) past freshness an entry may still be served while Postgres is unreachable. */
	staleMs: number;
}

/** Entries in one isolate's LRU (items and list pages together). */
export const ISOLATE_MAX_ENTRIES = 4_000;
/** Bytes (UTF-16 estimate) in one isolate's LRU: an eighth of the isolate's memory at most. */
export const ISOLATE_MAX_BYTES = 16 * 1024 * 1024;
/**
 * How long an isolate trusts what it holds (an entry or a list version) before it looks at KV again. This is
 * the extra staleness another isolate in the same location can add on top of KV; the isolate that made a
 * write sees it at once, and a client that presents its consistency token bypasses it.
 */
export const ISOLATE_RECHECK_MS = 2_000;
/** KV refuses an expirationTtl under 60 s. */
const KV_MIN_TTL_SECONDS = 60;

const parsed = new WeakMap<object, CacheConfig>();

export function cacheConfig(env: Pick<Env, "CACHE_FRESH_SECONDS" | "CACHE_STALE_SECONDS">): CacheConfig {
	const known = parsed.get(env);
	if (known) return known;
	const config = {
		freshMs: seconds(env.CACHE_FRESH_SECONDS, "CACHE_FRESH_SECONDS", 300) * 1000,
		staleMs: seconds(env.CACHE_STALE_SECONDS, "CACHE_STALE_SECONDS", 86_400) * 1000,
	};
	parsed.set(env, config);
	return config;
}

/** KV keeps an entry as long as it may be served at all (fresh, then stale), then drops it itself. */
export function kvTtlSeconds(config: CacheConfig): number {
	return Math.max(KV_MIN_TTL_SECONDS, Math.ceil((config.freshMs + config.staleMs) / 1000));
}

function seconds(raw: string | undefined, name: string, fallback: number): number {
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isSafeInteger(value) || value < 0) {
		// Loud, not a silent default: a typo here would otherwise change how stale every read may be.
		throw new Error(
			`Covenant Edge is misconfigured: ${name} must be a whole number of seconds, got '${raw}'`,
		);
	}
	return value;
}
