/**
 * Endpoint signing secrets are encrypted at rest with AES-256-GCM under a key from the Worker secret
 * `WEBHOOK_SECRETS_KEY`. The setting is a keyring: `<id>:<base64 of 32 bytes>` entries separated by commas or
 * spaces, the first one encrypting new secrets and every one decrypting (a bare base64 value is key id `0`).
 * Each ciphertext names its key id, so the encryption key can be rotated by putting a new key first and
 * keeping the old one listed until every secret has been re-encrypted (deliveries re-encrypt as they go).
 *
 * Ciphertexts are bound to their endpoint through the GCM additional data, so a ciphertext copied onto another
 * endpoint's row does not decrypt.
 */

export const CIPHERTEXT_PREFIX = "enc:v1";

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const DEV_ONLY_PREFIX = "dev-only";

export interface Keyring {
	currentId: string;
	keys: ReadonlyMap<string, CryptoKey>;
}

export class KeyringError extends Error {
	constructor(message: string) {
		super(`WEBHOOK_SECRETS_KEY: ${message}`);
		this.name = "KeyringError";
	}
}

let cached: { setting: string; production: boolean; keyring: Promise<Keyring> } | undefined;

/** The keyring of this deployment, parsed and imported once per isolate. */
export function keyringFrom(env: Pick<Env, "WEBHOOK_SECRETS_KEY" | "ENVIRONMENT">): Promise<Keyring> {
	const setting = env.WEBHOOK_SECRETS_KEY ?? "";
	const production = env.ENVIRONMENT === "production";
	if (cached?.setting !== setting || cached.production !== production) {
		const keyring = parseKeyring(setting, production);
		// A rejected promise must not stick: the next call parses again (and fails again, loudly).
		keyring.catch(() => {
			if (cached?.keyring === keyring) cached = undefined;
		});
		cached = { setting, production, keyring };
	}
	return cached.keyring;
}

export async function parseKeyring(setting: string, production: boolean): Promise<Keyring> {
	const entries = setting.split(/[\s,]+/).filter(Boolean);
	if (entries.length === 0) {
		throw new KeyringError("is not set; it must hold at least one base64-encoded 32-byte key");
	}
	const keys = new Map<string, CryptoKey>();
	for (const entry of entries) {
		const colon = entry.indexOf(":");
		const id = colon === -1 ? "0" : entry.slice(0, colon);
		const material = colon === -1 ? entry : entry.slice(colon + 1);
		if (!KEY_ID.test(id)) throw new KeyringError(`key id '${id}' must be 1-32 letters, digits, _ or -`);
		if (keys.has(id)) throw new KeyringError(`key id '${id}' is listed twice`);
		if (production && id.startsWith(DEV_ONLY_PREFIX)) {
			throw new KeyringError(`key '${id}' is a development key and must not be used in production`);
		}
		let bytes: Uint8Array;
		try {
			bytes = Uint8Array.from(atob(material), (c) => c.charCodeAt(0));
		} catch {
			throw new KeyringError(`key '${id}' is not valid base64`);
		}
		if (bytes.length !== 32) throw new KeyringError(`key '${id}' is ${bytes.length} bytes; it must be 32`);
		keys.set(id, await crypto.subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]));
	}
	const [first] = keys.keys();
	return { currentId: first as string, keys };
}

const additionalData = (endpointId: string) => new TextEncoder().encode(`webhook-endpoint:${endpointId}`);

/** `enc:v1:<key id>:<base64 iv>:<base64 ciphertext+tag>`. */
export async function encryptSecret(
	keyring: Keyring,
	endpointId: string,
	plaintext: string,
): Promise<string> {
	const key = keyring.keys.get(keyring.currentId) as CryptoKey;
	const iv = crypto.getRandomValues(new Uint8Array(12));
	const sealed = await crypto.subtle.encrypt(
		{ name: "AES-GCM", iv, additionalData: additionalData(endpointId) },
		key,
		new TextEncoder().encode(plaintext),
	);
	return [CIPHERTEXT_PREFIX, keyring.currentId, toBase64(iv), toBase64(new Uint8Array(sealed))].join(":");
}

export async function decryptSecret(
	keyring: Keyring,
	endpointId: string,
	ciphertext: string,
): Promise<string> {
	const parts = ciphertext.split(":");
	if (parts.length !== 5 || `${parts[0]}:${parts[1]}` !== CIPHERTEXT_PREFIX) {
		throw new Error("webhook secret ciphertext is malformed");
	}
	const [, , keyId, iv, sealed] = parts as [string, string, string, string, string];
	const key = keyring.keys.get(keyId);
	if (!key) {
		throw new KeyringError(`a secret was encrypted with key '${keyId}', which is no longer listed`);
	}
	const opened = await crypto.subtle.decrypt(
		{ name: "AES-GCM", iv: fromBase64(iv), additionalData: additionalData(endpointId) },
		key,
		fromBase64(sealed),
	);
	return new TextDecoder().decode(opened);
}

/** Whether the ciphertext was made with a key other than the current one (it should be re-encrypted). */
export function needsReencryption(keyring: Keyring, ciphertext: string): boolean {
	return ciphertext.split(":")[2] !== keyring.currentId;
}

export function toBase64(bytes: Uint8Array): string {
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary);
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
	return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
