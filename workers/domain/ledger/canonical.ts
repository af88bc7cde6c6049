import { createHash } from "node:crypto";

/**
 * The canonical encoding the ledger hashes: what an entry's hash, the balances digest and an idempotency
 * fingerprint are computed over. Anyone can re-implement it from docs/ledger.md:
 *
 * - UTF-8 JSON with no insignificant whitespace;
 * - object members sorted by key (UTF-16 code units, which for the ASCII keys the ledger uses is byte order);
 * - strings escaped exactly as ECMAScript's JSON.stringify does (RFC 8785 §3.2.2.2);
 * - every integer written as a JSON string of its decimal digits (no sign for >= 0, no leading zeros), so no
 *   encoder ever meets a float, an exponent or a 2^53 limit; non-integer numbers are refused;
 * - absent values written as `null`, so a document's set of members is fixed by its version (a member whose value
 *   is `undefined`, which JSON cannot carry, is left out as JSON.stringify leaves it out).
 *
 * Hashing is synchronous (`node:crypto`, native in workerd under `nodejs_compat` and in Node), which lets the
 * Durable Object hash inside one SQLite transaction without yielding: WebCrypto's digest is asynchronous and
 * would open the object's input gate mid-write. Native SHA-256 costs ~12-20 µs for an entry (~600 bytes) and
 * ~40 µs for 15 KB, where the pure-JavaScript hash it replaced took ~16-34 µs and ~210 µs.
 */
export type CanonicalValue =
	| string
	| number
	| bigint
	| boolean
	| null
	| readonly CanonicalValue[]
	| { readonly [key: string]: CanonicalValue };

export function canonicalJson(value: CanonicalValue): string {
	if (value === null) return "null";
	switch (typeof value) {
		case "string":
			return JSON.stringify(value);
		case "boolean":
			return value ? "true" : "false";
		case "bigint":
			return `"${value.toString(10)}"`;
		case "number":
			if (!Number.isSafeInteger(value)) {
				throw new RangeError(`canonical JSON carries only safe integers, got ${value}`);
			}
			// `-0` would print as "0" anyway; String() never uses an exponent for a safe integer.
			return `"${String(value)}"`;
		case "object": {
			if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v as CanonicalValue)).join(",")}]`;
			const record = value as { readonly [key: string]: CanonicalValue };
			const keys = Object.keys(record).sort();
			const members: string[] = [];
			for (const key of keys) {
				const member = record[key];
				if (member === undefined) continue;
				members.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
			}
			return `{${members.join(",")}}`;
		}
		default:
			throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
	}
}

const encoder = new TextEncoder();

/** Lower-case hex SHA-256 of the UTF-8 bytes of `text`. */
export function sha256Hex(text: string): string {
	// TextEncoder is native; a string given to update() goes through workerd's JavaScript Buffer polyfill.
	return createHash("sha256").update(encoder.encode(text)).digest("hex");
}

/** SHA-256 of a value's canonical encoding. */
export function canonicalHash(value: CanonicalValue): string {
	return sha256Hex(canonicalJson(value));
}
