import { cacheConfig, kvTtlSeconds } from "./config.ts";
import type { ConsistencyToken } from "./consistency.ts";
import { type CacheEntry, entryBytes, fromKv, toKvMetadata } from "./entry.ts";
import { isolateEntries } from "./isolate.ts";
import { type CachedResource, itemKey } from "./keys.ts";
import type { CacheEnv } from "./read-through.ts";
import { bumpListVersion } from "./versions.ts";

/**
 * Puts a freshly written item into this isolate and KV, after the Postgres transaction committed, so the
 * writer's next read (here, and at this location) returns it. Never replaces a newer version already
 * cached (two writers finishing out of order). Awaited by writes: KV failures propagate so the caller can
 * log them; the item's freshness lifetime bounds how long a failed write-through can leave an old entry.
 */
export async function writeThrough(env: CacheEnv, key: string, entry: CacheEntry): Promise<void> {
	const held = isolateEntries.get(key)?.entry;
	if (!isOlder(entry, held))
		isolateEntries.set(key, { entry, checkedAt: Date.now() }, entryBytes(key, entry));
	await putIfNewer(env, key, entry);
}

/**
 * Drops keys from this isolate and KV. For items changed outside the API (e.g. a queue consumer applying a
 * projection); list pages need no invalidation, bump their resource's list version instead.
 * Other isolates drop their copy within ISOLATE_RECHECK_MS.
 */
export async function invalidate(env: Pick<Env, "CACHE">, ...keys: string[]): Promise<void> {
	for (const key of keys) isolateEntries.delete(key);
	await Promise.all(keys.map((key) => env.CACHE.delete(key)));
}

/**
 * Writes the entry to KV unless KV already holds a newer version of the item. KV has no compare-and-set, so
 * a write landing between the read and the put can still be overwritten; the window is one KV round trip,
 * and an entry overwritten that way is corrected by the next write or when it stops being fresh.
 */
export async function putIfNewer(env: CacheEnv, key: string, entry: CacheEntry): Promise<void> {
	try {
		if (entry.version !== undefined) {
			const current = await env.CACHE.getWithMetadata(key);
			if (isOlder(entry, fromKv(current.value, current.metadata))) return;
		}
		await env.CACHE.put(key, entry.body, {
			metadata: toKvMetadata(entry),
			expirationTtl: kvTtlSeconds(cacheConfig(env)),
		});
	} catch (error) {
		console.error(JSON.stringify({ msg: "cache: KV write failed", key, error: String(error) }));
		throw error;
	}
}

function isOlder(entry: CacheEntry, than: CacheEntry | undefined): boolean {
	return (
		than !== undefined &&
		entry.version !== undefined &&
		than.version !== undefined &&
		entry.version < than.version
	);
}

/**
 * Everything the cache needs after a write committed to Postgres: the fresh item written through under each
 * of its ids, then the resource's list version bumped so every list page and aggregate depending on it is
 * recomputed. Returns the consistency token for the writer. Cache failures do not undo the committed write:
 * they are logged, and the token then carries the current time as its list version, so a client presenting
 * it is served from Postgres until the cache has caught up.
 */
export async function commitWrite(
	env: CacheEnv,
	write: { resource: CachedResource; ids: string[]; entry: CacheEntry },
): Promise<ConsistencyToken> {
	const { resource, ids, entry } = write;
	// A failed KV put is logged by putIfNewer; this isolate already holds the new entry either way.
	await Promise.all(ids.map((id) => writeThrough(env, itemKey(resource, id), entry).catch(() => {})));
	const listVersion = await bumpListVersion(env, resource).catch((error: unknown) => {
		console.error(JSON.stringify({ msg: "cache: list version bump failed", resource, error: String(error) }));
		return Date.now();
	});
	return { resource, listVersion, ids, version: entry.version ?? 0 };
}
