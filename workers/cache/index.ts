/**
 * The read-through cache: in-isolate LRU → Workers KV → Postgres, with versioned list keys, write-through
 * for single items, strong ETags, X-Cache and stale serving while Postgres is unreachable.
 * The exported API is documented in docs/caching.md.
 */
export { cacheConfig, ISOLATE_MAX_BYTES, ISOLATE_MAX_ENTRIES, ISOLATE_RECHECK_MS } from "./config.ts";
export {
	CONSISTENCY_HEADER,
	type ConsistencyToken,
	decodeConsistencyToken,
	encodeConsistencyToken,
	MAX_TOKEN_LENGTH,
	minItemVersion,
	minListVersions,
} from "./consistency.ts";
export { type CacheEntry, computeEtag, createEntry } from "./entry.ts";
export {
	cachedJson,
	cachedResponse,
	etagMatches,
	ifMatchSatisfied,
	READ_CACHE_CONTROL,
	WRITE_CACHE_CONTROL,
	waitUntilOf,
	writtenJson,
} from "./http.ts";
export { resetIsolateCache } from "./isolate.ts";
export {
	CACHED_RESOURCES,
	type CachedResource,
	canonicalQuery,
	dependentKey,
	itemKey,
	readableDependentKey,
} from "./keys.ts";
export { BoundedLru, type LruBounds } from "./lru.ts";
export {
	cachedReadHeaders,
	notModifiedResponse,
	readRequestParameters,
	strictBody,
	writeRequestHeaders,
	writeResponseHeaders,
} from "./openapi.ts";
export { isDatabaseUnavailable, sqlState, violatedConstraint } from "./origin.ts";
export {
	type CacheEnv,
	type CacheRead,
	type CacheStatus,
	isolateHit,
	readDependent,
	readThrough,
} from "./read-through.ts";
export { bumpListVersion, listVersion, recentListVersion } from "./versions.ts";
export { commitWrite, invalidate, writeThrough } from "./write-through.ts";
