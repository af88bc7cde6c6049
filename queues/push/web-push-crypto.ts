import { fromBase64Url } from "./base64url.ts";

/** RFC 8188 record size we announce; one record carries the whole payload. */
export const RECORD_SIZE = 4096;
const TAG_LENGTH = 16;
/** The largest plaintext that keeps the whole body within the 4096 bytes push services accept (RFC 8030 §7.2). */
export const MAX_PLAINTEXT_BYTES = RECORD_SIZE - TAG_LENGTH - 1 - 86;

const encoder = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array {
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let offset = 0;
	for (const part of parts) {
		out.set(part, offset);
		offset += part.length;
	}
	return out;
}

async function hkdf(
	salt: Uint8Array,
	ikm: Uint8Array,
	info: Uint8Array,
	length: number,
): Promise<Uint8Array> {
	const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
	return new Uint8Array(
		await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, length * 8),
	);
}

export interface SenderKeys {
	/** The application server's ephemeral public key, uncompressed (65 bytes). */
	publicKey: Uint8Array;
	privateKey: CryptoKey;
}

/** A fresh ephemeral ECDH key pair: RFC 8291 uses a new one for every message. */
export async function generateSenderKeys(): Promise<SenderKeys> {
	const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
		"deriveBits",
	])) as CryptoKeyPair;
	const publicKey = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
	return { publicKey, privateKey: pair.privateKey };
}

/**
 * Web Push message encryption (RFC 8291) in the aes128gcm content coding (RFC 8188):
 *   ecdh_secret = ECDH(as_private, ua_public)
 *   IKM   = HKDF(salt = auth_secret, ikm = ecdh_secret, info = "WebPush: info" 0x00 ua_public as_public, 32)
 *   CEK   = HKDF(salt, IKM, "Content-Encoding: aes128gcm" 0x00, 16)
 *   NONCE = HKDF(salt, IKM, "Content-Encoding: nonce" 0x00, 12)
 *   body  = salt(16) ‖ rs(uint32) ‖ idlen(1) = 65 ‖ as_public(65) ‖ AES-128-GCM(CEK, NONCE, plaintext ‖ 0x02)
 * `salt` and `sender` are parameters only so the RFC's test vector can be reproduced; by default both are fresh.
 */
export async function encryptWebPush(
	plaintext: Uint8Array,
	subscription: { p256dh: string; auth: string },
	options: { salt?: Uint8Array; sender?: SenderKeys } = {},
): Promise<Uint8Array> {
	if (plaintext.length > MAX_PLAINTEXT_BYTES) {
		throw new Error(`Web Push payload of ${plaintext.length} bytes exceeds ${MAX_PLAINTEXT_BYTES}`);
	}
	const uaPublic = fromBase64Url(subscription.p256dh);
	const authSecret = fromBase64Url(subscription.auth);
	if (uaPublic.length !== 65 || uaPublic[0] !== 0x04)
		throw new Error("p256dh is not an uncompressed P-256 point");
	if (authSecret.length !== 16) throw new Error("auth is not 16 bytes");
	const sender = options.sender ?? (await generateSenderKeys());
	const salt = options.salt ?? crypto.getRandomValues(new Uint8Array(16));

	const uaKey = await crypto.subtle.importKey(
		"raw",
		uaPublic,
		{ name: "ECDH", namedCurve: "P-256" },
		false,
		[],
	);
	const ecdhSecret = new Uint8Array(
		// workers-types spells the member `$public` (a TypeScript keyword clash); WebCrypto reads `public`.
		await crypto.subtle.deriveBits(
			{ name: "ECDH", public: uaKey } as unknown as SubtleCryptoDeriveKeyAlgorithm,
			sender.privateKey,
			256,
		),
	);
	const keyInfo = concat(encoder.encode("WebPush: info\0"), uaPublic, sender.publicKey);
	const ikm = await hkdf(authSecret, ecdhSecret, keyInfo, 32);
	const cek = await hkdf(salt, ikm, encoder.encode("Content-Encoding: aes128gcm\0"), 16);
	const nonce = await hkdf(salt, ikm, encoder.encode("Content-Encoding: nonce\0"), 12);

	const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["encrypt"]);
	const record = concat(plaintext, new Uint8Array([0x02]));
	const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, key, record));

	const header = new Uint8Array(21);
	header.set(salt, 0);
	new DataView(header.buffer).setUint32(16, RECORD_SIZE);
	header[20] = sender.publicKey.length;
	return concat(header, sender.publicKey, ciphertext);
}
