import { ISOLATE_MAX_BYTES, ISOLATE_MAX_ENTRIES } from "./config.ts";
import type { CacheEntry } from "./entry.ts";
import type { CachedResource } from "./keys.ts";
import { BoundedLru } from "./lru.ts";

/**
 * The in-isolate tier: module state, so it lives as long as the isolate and is shared by its requests.
 * `checkedAt` is when this isolate last confirmed the entry (or version) against KV or Postgres.
 */
export interface IsolateSlot {
	entry: CacheEntry;
	checkedAt: number;
}

export const isolateEntries = new BoundedLru<IsolateSlot>({
	maxEntries: ISOLATE_MAX_ENTRIES,
	maxBytes: ISOLATE_MAX_BYTES,
});

/** One memo per cached resource: a fixed, tiny set. */
export const isolateVersions = new Map<CachedResource, { value: number; checkedAt: number }>();

/**
 * Forgets everything this isolate holds (KV is untouched). For tests that need a cold isolate, and for an
 * operator's "drop caches" endpoint should one be added.
 */
export function resetIsolateCache(): void {
	isolateEntries.clear();
	isolateVersions.clear();
}
