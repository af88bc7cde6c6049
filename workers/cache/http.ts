import type { Context, TypedResponse } from "hono";
import { type AppEnv, backgroundOf } from "../lib/context.ts";
import { CONSISTENCY_HEADER, type ConsistencyToken, encodeConsistencyToken } from "./consistency.ts";
import type { CacheEntry } from "./entry.ts";
import type { CacheRead } from "./read-through.ts";

/**
 * Reads may be kept by the client (never by a shared cache: they depend on the caller's token) but must be
 * revalidated before each use, which costs a 304 from the nearest edge. A client therefore never shows an
 * older representation than the edge has, and sees its own writes at once.
 */
export const READ_CACHE_CONTROL = "private, no-cache";
export const WRITE_CACHE_CONTROL = "no-store";

/**
 * The response for a cached read: the stored body byte for byte (no re-serialization on a hit), with
 * `ETag`, `Cache-Control`, `X-Cache`, `Age`, and on STALE a `Warning`; a 304 when `If-None-Match` names the
 * current ETag. Typed as the route's JSON response: the body is exactly the serialization of that type made
 * when the entry was filled (see `createEntry`), which is why the cast below is sound.
 */
export function cachedJson<T>(c: Context<AppEnv>, read: CacheRead): TypedResponse<T, 200, "json"> {
	return cachedResponse(read, c.req.header("if-none-match")) as unknown as TypedResponse<T, 200, "json">;
}

/**
 * The Response of `cachedJson`, for a request whose `If-None-Match` is `ifNoneMatch`; `extraHeaders` are added
 * at construction (the isolate hot path passes `x-request-id` and the RateLimit headers here, instead of
 * setting them on the finished Response one by one).
 */
export function cachedResponse(
	read: CacheRead,
	ifNoneMatch: string | null | undefined,
	extraHeaders?: Record<string, string>,
): Response {
	const notModified = etagMatches(ifNoneMatch ?? undefined, read.entry.etag);
	// One plain object, converted once by the runtime: this is the hottest path of the API.
	const headers: Record<string, string> = extraHeaders ?? {};
	headers.etag = read.entry.etag;
	headers["cache-control"] = READ_CACHE_CONTROL;
	headers["x-cache"] = read.status;
	headers.vary = "Authorization";
	if (read.status !== "MISS") headers.age = String(read.ageSeconds);
	if (read.status === "STALE") headers.warning = '110 - "Response is Stale"';
	if (!notModified) headers["content-type"] = "application/json";
	return new Response(notModified ? null : bodyBytes(read.entry), {
		status: notModified ? 304 : 200,
		headers,
	});
}

const encoder = new TextEncoder();
/** Each cached entry's body as UTF-8, encoded once per entry and isolate (the runtime copies it per response). */
const encodedBodies = new WeakMap<CacheEntry, Uint8Array>();

function bodyBytes(entry: CacheEntry): Uint8Array {
	let bytes = encodedBodies.get(entry);
	if (!bytes) {
		bytes = encoder.encode(entry.body);
		encodedBodies.set(entry, bytes);
	}
	return bytes;
}

/**
 * The response for a successful write: the new representation, its ETag (usable in `If-Match` for the next
 * write) and the consistency token a client sends back to read its own write from any isolate or location.
 */
export function writtenJson<T, S extends 200 | 201>(
	entry: CacheEntry,
	status: S,
	token: ConsistencyToken,
	extraHeaders: Record<string, string> = {},
): TypedResponse<T, S, "json"> {
	const response = new Response(entry.body, {
		status,
		headers: {
			"content-type": "application/json",
			etag: entry.etag,
			"cache-control": WRITE_CACHE_CONTROL,
			[CONSISTENCY_HEADER]: encodeConsistencyToken(token),
			...extraHeaders,
		},
	});
	return response as unknown as TypedResponse<T, S, "json">;
}

/** RFC 9110 §13.1.2: `*` or a list of entity tags, compared weakly (a W/ prefix is ignored). */
export function etagMatches(header: string | undefined, etag: string): boolean {
	if (!header) return false;
	const wanted = stripWeak(etag);
	return header.split(",").some((candidate) => {
		const tag = candidate.trim();
		return tag === "*" || stripWeak(tag) === wanted;
	});
}

/** RFC 9110 §13.1.1: If-Match uses the strong comparison, so a weak tag never matches. */
export function ifMatchSatisfied(header: string | undefined, etag: string): boolean {
	if (header === undefined) return true;
	return header.split(",").some((candidate) => {
		const tag = candidate.trim();
		return tag === "*" || (!tag.startsWith("W/") && tag === etag);
	});
}

function stripWeak(tag: string): string {
	return tag.startsWith("W/") ? tag.slice(2) : tag;
}

/** `ctx.waitUntil` of the request as a function (see `backgroundOf` for requests without one). */
export function waitUntilOf(c: Context<AppEnv>): (promise: Promise<unknown>) => void {
	const background = backgroundOf(c);
	return (promise) => background.waitUntil(promise);
}
