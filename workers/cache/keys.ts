import { base64url } from "./entry.ts";

/**
 * The resources whose reads are cached. Each has a list version: every list page (and every aggregate, e.g. a
 * sector's project totals) names the versions it was computed under in its key, so bumping a version makes
 * every dependent key new at once without finding or deleting the old ones (KV expires those).
 */
export const CACHED_RESOURCES = ["nations", "sectors", "projects"] as const;
export type CachedResource = (typeof CACHED_RESOURCES)[number];

/**
 * Bumped when the shape of a cached representation changes in a deploy, so a new deploy never serves a body
 * the previous one cached.
 */
export const CACHE_KEY_PREFIX = "c1";

/** KV keys are limited to 512 bytes; longer logical keys are hashed. */
const MAX_READABLE_KEY = 400;

/** The key of one item, e.g. `c1:item:nations:KE`. Write-through and reads must agree on it. */
export function itemKey(resource: CachedResource, id: string): string {
	return `${CACHE_KEY_PREFIX}:item:${resource}:${id}`;
}

export function versionKey(resource: CachedResource): string {
	return `${CACHE_KEY_PREFIX}:ver:${resource}`;
}

/**
 * The key of a list page or aggregate: the resource, the versions of everything it depends on, and a
 * canonical form of the query (filters, cursor, limit, and the caller's visibility where rows are scoped).
 */
export async function dependentKey(
	resource: CachedResource,
	versions: readonly number[],
	canonicalQuery: string,
): Promise<string> {
	const readable = readableDependentKey(resource, versions, canonicalQuery);
	if (readable !== undefined) return readable;
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonicalQuery));
	return `${CACHE_KEY_PREFIX}:list:${resource}:${versions.join(".")}:#${base64url(new Uint8Array(digest))}`;
}

/** `dependentKey` when it needs no hashing (short enough to be readable), else undefined. Synchronous. */
export function readableDependentKey(
	resource: CachedResource,
	versions: readonly number[],
	canonicalQuery: string,
): string | undefined {
	const readable = `${CACHE_KEY_PREFIX}:list:${resource}:${versions.join(".")}:${canonicalQuery}`;
	return readable.length <= MAX_READABLE_KEY ? readable : undefined;
}

/**
 * A canonical query string: parameters sorted by name, undefined ones dropped, values percent-encoded, so
 * `?limit=50&sector=energy` and `?sector=energy&limit=50` share an entry.
 */
export function canonicalQuery(params: Record<string, string | number | undefined | null>): string {
	return Object.keys(params)
		.filter((name) => params[name] !== undefined && params[name] !== null && params[name] !== "")
		.sort()
		.map((name) => `${name}=${encodeURIComponent(String(params[name]))}`)
		.join("&");
}
