import type { NeonQueryResultHKT } from "drizzle-orm/neon-serverless";
import type { PgDatabase } from "drizzle-orm/pg-core";
import { ApiError } from "../../lib/problem.ts";
import type * as schema from "../schema/index.ts";

/** A connection or a transaction on it: every query function accepts either. */
export type Queryable = PgDatabase<NeonQueryResultHKT, typeof schema>;

/**
 * Keyset pagination. A cursor is opaque to clients (base64url JSON): the last key of the page it follows and
 * a fingerprint of the filters it was issued for, so a cursor replayed with other filters is refused instead
 * of silently skipping or repeating rows. Pages never use OFFSET: a row inserted or deleted between two
 * requests cannot shift the next page.
 */
export interface Page<T> {
	data: T[];
	next_cursor: string | null;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export function encodeCursor(lastKey: string, filterFingerprint: string): string {
	const json = JSON.stringify({ k: lastKey, f: filterFingerprint });
	return btoa(json).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The key the next page starts after; a 400 problem when the cursor is malformed or for other filters. */
export function decodeCursor(cursor: string | undefined, filterFingerprint: string): string | undefined {
	if (cursor === undefined) return undefined;
	let parsed: unknown;
	try {
		const padded = cursor.replace(/-/g, "+").replace(/_/g, "/");
		parsed = JSON.parse(atob(padded + "=".repeat((4 - (padded.length % 4)) % 4)));
	} catch {
		throw invalidCursor(NOT_OURS);
	}
	const { k, f } = (parsed ?? {}) as { k?: unknown; f?: unknown };
	if (typeof k !== "string" || typeof f !== "string" || k.length > 64) {
		throw invalidCursor(NOT_OURS);
	}
	if (f !== filterFingerprint) {
		throw invalidCursor("it was issued for different filters; repeat the filters of the first page with it");
	}
	return k;
}

const NOT_OURS = "it is not a cursor this API issued";

function invalidCursor(message: string): ApiError {
	return new ApiError("invalid_request", `The cursor is not valid here: ${message}`, {
		errors: [{ path: ["query", "cursor"], message, code: "invalid_cursor" }],
	});
}

/**
 * The two halves of a `<ISO time>|<id>` key, the key of every list ordered by a timestamp and an id; a 400
 * problem when the time does not parse or the id does not match `idPattern` (a key this API never issued).
 */
export function splitTimeKey(key: string, idPattern = /^.+$/): [string, string] {
	const bar = key.indexOf("|");
	const time = key.slice(0, bar);
	const id = key.slice(bar + 1);
	if (bar <= 0 || Number.isNaN(Date.parse(time)) || !idPattern.test(id)) throw invalidCursor(NOT_OURS);
	return [time, id];
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only proves there is a next page, and the cursor
 * points after the last row returned.
 */
export function toPage<Row, T>(
	rows: Row[],
	limit: number,
	keyOf: (row: Row) => string,
	present: (row: Row) => T,
	filterFingerprint: string,
): Page<T> {
	const hasMore = rows.length > limit;
	const pageRows = hasMore ? rows.slice(0, limit) : rows;
	const last = pageRows.at(-1);
	return {
		data: pageRows.map(present),
		next_cursor: hasMore && last !== undefined ? encodeCursor(keyOf(last), filterFingerprint) : null,
	};
}

/** A short, stable fingerprint of a canonical filter string (FNV-1a, 32 bits): a guard, not a secret. */
export function fingerprint(canonicalFilters: string): string {
	let hash = 0x811c9dc5;
	for (let i = 0; i < canonicalFilters.length; i++) {
		hash ^= canonicalFilters.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193) >>> 0;
	}
	return hash.toString(36);
}
