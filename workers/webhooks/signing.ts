import { fromBase64, toBase64 } from "./encryption.ts";

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is
 * `{webhook-id}.{webhook-timestamp}.{body}`, signed with HMAC-SHA256 under the endpoint's secret, and sent as
 * `webhook-signature: v1,<base64>`; several signatures (one per valid secret, during a rotation) are separated
 * by spaces. Receivers verify with the official libraries (`standardwebhooks` on npm, PyPI, Go...).
 */

export const SECRET_PREFIX = "whsec_";
/** The spec allows 24 to 64 bytes of key; we generate 32 (the HMAC-SHA256 block-size sweet spot). */
export const SECRET_BYTES = 32;
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

/** A fresh `whsec_...` secret: the prefix and the base64 of 32 random bytes. */
export function generateSecret(): string {
	return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** The key bytes of a `whsec_` secret; throws on anything else, so a corrupt secret never signs. */
export function secretKeyBytes(secret: string): Uint8Array<ArrayBuffer> {
	if (!secret.startsWith(SECRET_PREFIX)) throw new Error("a webhook secret must start with whsec_");
	const bytes = fromBase64(secret.slice(SECRET_PREFIX.length));
	if (bytes.length < MIN_SECRET_BYTES || bytes.length > MAX_SECRET_BYTES) {
		throw new Error(`a webhook secret must hold ${MIN_SECRET_BYTES}-${MAX_SECRET_BYTES} bytes`);
	}
	return bytes;
}

export interface SignedHeaders {
	"webhook-id": string;
	"webhook-timestamp": string;
	"webhook-signature": string;
}

/** An HMAC-SHA256 key for a `whsec_` secret (import once, sign many messages). */
export function importSigningKey(secret: string): Promise<CryptoKey> {
	return crypto.subtle.importKey("raw", secretKeyBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, [
		"sign",
	]);
}

/**
 * The three Standard Webhooks headers for one attempt. `secrets` is the current secret first, then the
 * previous one while its grace period lasts (as strings, or keys from `importSigningKey`): receivers accept
 * the message if any signature verifies.
 */
export async function signMessage(
	secrets: readonly (string | CryptoKey)[],
	message: { id: string; timestamp: Date; body: string },
): Promise<SignedHeaders> {
	if (secrets.length === 0) throw new Error("signing needs at least one secret");
	const timestamp = Math.floor(message.timestamp.getTime() / 1000).toString();
	const content = new TextEncoder().encode(`${message.id}.${timestamp}.${message.body}`);
	const signatures = await Promise.all(
		secrets.map(async (secret) => {
			const key = typeof secret === "string" ? await importSigningKey(secret) : secret;
			const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, content));
			return `v1,${toBase64(mac)}`;
		}),
	);
	return {
		"webhook-id": message.id,
		"webhook-timestamp": timestamp,
		"webhook-signature": signatures.join(" "),
	};
}
