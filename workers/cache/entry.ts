import type { AccessTarget } from "../auth/permissions.ts";

/**
 * One cached representation: the exact JSON body a client receives, its strong ETag, when Postgres produced
 * it, and for single items the row version (for consistency tokens and write ordering) and the object's
 * nation/sector/region (so an object-level read check needs no parse of the body).
 */
export interface CacheEntry {
	body: string;
	etag: string;
	/** ms since the epoch when the representation was read from (or written to) Postgres. */
	storedAt: number;
	version?: number;
	access?: AccessTarget;
}

/** What the KV value's metadata holds (KV metadata is limited to 1024 bytes: short names). */
interface EntryMetadata {
	e: string;
	t: number;
	v?: number;
	a?: AccessTarget;
}

/**
 * Builds an entry from a value: serializes it once and hashes the bytes. The ETag is strong (byte-identical
 * bodies share it) and starts with the row version when there is one, so it changes on every write and a
 * person reading logs can tell versions apart. The hash part means a change that somehow skipped the
 * version bump still changes the ETag.
 */
export async function createEntry(
	value: unknown,
	options: { version?: number; access?: AccessTarget; storedAt?: number } = {},
): Promise<CacheEntry> {
	const body = JSON.stringify(value);
	return {
		body,
		etag: await computeEtag(body, options.version),
		storedAt: options.storedAt ?? Date.now(),
		version: options.version,
		access: options.access,
	};
}

export async function computeEtag(body: string, version?: number): Promise<string> {
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
	const hash = base64url(digest.subarray(0, 12));
	return version === undefined ? `"${hash}"` : `"${version}-${hash}"`;
}

/**
 * What an entry costs in the isolate LRU: JS strings are UTF-16, plus the body's UTF-8 copy that responses
 * are made from (workers/cache/http.ts; about one byte a character for JSON), the key and bookkeeping.
 */
export function entryBytes(key: string, entry: CacheEntry): number {
	return (entry.body.length + entry.etag.length + key.length) * 2 + entry.body.length + 256;
}

export function toKvMetadata(entry: CacheEntry): EntryMetadata {
	const metadata: EntryMetadata = { e: entry.etag, t: entry.storedAt };
	if (entry.version !== undefined) metadata.v = entry.version;
	if (entry.access) metadata.a = entry.access;
	return metadata;
}

/** Reads an entry back from KV; anything not written by `toKvMetadata` counts as absent. */
export function fromKv(body: string | null, metadata: unknown): CacheEntry | undefined {
	if (body === null || typeof metadata !== "object" || metadata === null) return undefined;
	const m = metadata as Partial<EntryMetadata>;
	if (typeof m.e !== "string" || typeof m.t !== "number") return undefined;
	return {
		body,
		etag: m.e,
		storedAt: m.t,
		version: typeof m.v === "number" ? m.v : undefined,
		access: m.a && typeof m.a === "object" ? m.a : undefined,
	};
}

export function base64url(bytes: Uint8Array): string {
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text: string): Uint8Array {
	const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
	const binary = atob(padded);
	const bytes = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
	return bytes;
}
