/**
 * Partner API keys: `cov_<env>_<id>_<secret>`, e.g. `cov_live_k7x3…_q2m9…`.
 * - `cov_` makes a leaked key recognisable to secret scanners and to people;
 * - `<env>` is `live` on production deploys and `test` everywhere else; a key only works where it was made;
 * - `<id>` (16 base32 characters, 80 bits) names the key in URLs, logs and the authority's index;
 * - `<secret>` (40 base32 characters, 200 bits from the platform CSPRNG) is shown once and stored only as
 *   the SHA-256 of the whole key. Such entropy needs no slow hash: guessing is hopeless either way.
 */
const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
const ID_LENGTH = 16;
const SECRET_LENGTH = 40;
const KEY_RE = /^cov_(live|test)_([a-z2-7]{16})_([a-z2-7]{40})$/;
export const KEY_ID_RE = /^[a-z2-7]{16}$/;
export const KEY_PREFIX = "cov_";

export type KeyEnvironment = "live" | "test";

export interface ParsedApiKey {
	environment: KeyEnvironment;
	id: string;
	secret: string;
}

function randomBase32(length: number): string {
	// 256 is a multiple of 32, so masking a random byte keeps every character uniformly likely.
	const bytes = crypto.getRandomValues(new Uint8Array(length));
	let out = "";
	for (const byte of bytes) out += ALPHABET[byte & 31];
	return out;
}

export function keyEnvironmentFor(environment: string): KeyEnvironment {
	return environment === "production" ? "live" : "test";
}

export function newKeyId(): string {
	return randomBase32(ID_LENGTH);
}

export function newApiKey(environment: KeyEnvironment, id: string): string {
	return `${KEY_PREFIX}${environment}_${id}_${randomBase32(SECRET_LENGTH)}`;
}

/** The non-secret part shown in listings so a person can tell their keys apart: `cov_live_<id>`. */
export function displayPrefix(environment: KeyEnvironment, id: string): string {
	return `${KEY_PREFIX}${environment}_${id}`;
}

export function looksLikeApiKey(credential: string): boolean {
	return credential.startsWith(KEY_PREFIX);
}

export function parseApiKey(credential: string): ParsedApiKey | undefined {
	const match = KEY_RE.exec(credential);
	if (!match) return undefined;
	return { environment: match[1] as KeyEnvironment, id: match[2] as string, secret: match[3] as string };
}

/** Hex SHA-256 of the whole key (environment and id included, so a secret cannot be replayed under another id). */
export async function hashApiKey(key: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
	return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Constant-time comparison of two hex digests of equal length. */
export function digestsEqual(a: string, b: string): boolean {
	const left = new TextEncoder().encode(a);
	const right = new TextEncoder().encode(b);
	if (left.byteLength !== right.byteLength) return false;
	return crypto.subtle.timingSafeEqual(left, right);
}
