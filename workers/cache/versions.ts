import { ISOLATE_RECHECK_MS } from "./config.ts";
import { isolateVersions } from "./isolate.ts";
import { type CachedResource, versionKey } from "./keys.ts";

/**
 * The current list version of a resource at this location, or `undefined` when it is older than `atLeast`
 * even in KV (a write made elsewhere has not propagated here yet): the caller must then bypass the cache.
 * A KV failure falls back to the isolate's memo, else to `undefined` (read Postgres, cache nothing).
 */
export async function listVersion(
	env: Pick<Env, "CACHE">,
	resource: CachedResource,
	atLeast = 0,
): Promise<number | undefined> {
	const now = Date.now();
	const memo = isolateVersions.get(resource);
	if (memo && now - memo.checkedAt < ISOLATE_RECHECK_MS && memo.value >= atLeast) return memo.value;
	let stored: string | null;
	try {
		stored = await env.CACHE.get(versionKey(resource));
	} catch (error) {
		console.error(JSON.stringify({ msg: "cache: list version read failed", resource, error: String(error) }));
		return memo && memo.value >= atLeast ? memo.value : undefined;
	}
	const value = parseVersion(stored);
	isolateVersions.set(resource, { value, checkedAt: now });
	return value >= atLeast ? value : undefined;
}

/**
 * The list version this isolate confirmed within ISOLATE_RECHECK_MS (what `listVersion` answers without KV),
 * or undefined. Synchronous: for the isolate hot path.
 */
export function recentListVersion(resource: CachedResource): number | undefined {
	const memo = isolateVersions.get(resource);
	return memo && Date.now() - memo.checkedAt < ISOLATE_RECHECK_MS ? memo.value : undefined;
}

/**
 * Moves the resource's list version forward, so every list page and aggregate that depends on it gets a new
 * key. Call it after the Postgres transaction committed. The new version is strictly greater than any this
 * location has seen and is at least the current time in ms, so versions from different writers stay ordered
 * well enough to serve as a client's consistency token. Two concurrent bumps may both write the same value;
 * that is safe because each writer read the old one after its own commit, so any reader that sees the new
 * value queries Postgres after both commits.
 */
export async function bumpListVersion(env: Pick<Env, "CACHE">, resource: CachedResource): Promise<number> {
	const current = parseVersion(await env.CACHE.get(versionKey(resource)));
	const next = Math.max(Date.now(), current + 1);
	await env.CACHE.put(versionKey(resource), String(next));
	isolateVersions.set(resource, { value: next, checkedAt: Date.now() });
	return next;
}

function parseVersion(stored: string | null): number {
	const value = Number(stored ?? 0);
	return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}
