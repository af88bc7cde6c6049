import { inject } from "vitest";
import { fromBase64Url, toBase64Url } from "../../queues/push/base64url.ts";

/** Base URL of the local push receiver (test/node/push-receiver.ts). */
export const receiverUrl = () => inject("pushReceiverUrl");

export interface ReceivedRequest {
	seq: number;
	method: string;
	path: string;
	headers: Record<string, string>;
	body: string;
}

export async function receivedRequests(pathPrefix: string): Promise<ReceivedRequest[]> {
	const response = await fetch(`${receiverUrl()}/__requests?path_prefix=${encodeURIComponent(pathPrefix)}`);
	return (await response.json()) as ReceivedRequest[];
}

export const bodyBytes = (request: ReceivedRequest) =>
	Uint8Array.from(atob(request.body), (c) => c.charCodeAt(0));
export const bodyJson = <T = Record<string, unknown>>(request: ReceivedRequest) =>
	JSON.parse(new TextDecoder().decode(bodyBytes(request))) as T;

function pem(label: string, der: ArrayBuffer): string {
	const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
	return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)?.join("\n")}\n-----END ${label}-----\n`;
}

export interface PushCredentials {
	env: Partial<Env> & Record<string, string>;
	/** To verify the JWTs the worker signed. */
	fcmPublicKey: CryptoKey;
	apnsPublicKey: CryptoKey;
	vapidPublicKey: CryptoKey;
}

/** Fresh provider credentials, with every endpoint pointed at the local receiver. */
export async function pushCredentials(): Promise<PushCredentials> {
	const rsa = (await crypto.subtle.generateKey(
		{
			name: "RSASSA-PKCS1-v1_5",
			modulusLength: 2048,
			publicExponent: new Uint8Array([1, 0, 1]),
			hash: "SHA-256",
		},
		true,
		["sign", "verify"],
	)) as CryptoKeyPair;
	const apns = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
		"sign",
		"verify",
	])) as CryptoKeyPair;
	const vapid = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
		"sign",
		"verify",
	])) as CryptoKeyPair;
	const vapidJwk = (await crypto.subtle.exportKey("jwk", vapid.privateKey)) as JsonWebKey;
	const vapidRaw = new Uint8Array((await crypto.subtle.exportKey("raw", vapid.publicKey)) as ArrayBuffer);
	const base = receiverUrl();
	return {
		env: {
			FCM_BASE_URL: `${base}/fcm`,
			FCM_PROJECT_ID: "covenant-test",
			FCM_SERVICE_ACCOUNT: JSON.stringify({
				type: "service_account",
				client_email: "push@covenant-test.iam.gserviceaccount.com",
				private_key_id: "test-key",
				private_key: pem(
					"PRIVATE KEY",
					(await crypto.subtle.exportKey("pkcs8", rsa.privateKey)) as ArrayBuffer,
				),
				token_uri: `${base}/oauth/token`,
			}),
			APNS_BASE_URL: `${base}/apns`,
			APNS_TOPIC: "org.covenant.app",
			APNS_TEAM_ID: "TEAM123456",
			APNS_KEY_ID: "KEY1234567",
			APNS_PRIVATE_KEY: pem(
				"PRIVATE KEY",
				(await crypto.subtle.exportKey("pkcs8", apns.privateKey)) as ArrayBuffer,
			),
			VAPID_PUBLIC_KEY: toBase64Url(vapidRaw),
			VAPID_PRIVATE_KEY: vapidJwk.d as string,
			VAPID_SUBJECT: "mailto:ops@covenant.example",
			WEB_PUSH_ALLOWED_HOSTS: "127.0.0.1",
		},
		fcmPublicKey: rsa.publicKey,
		apnsPublicKey: apns.publicKey,
		vapidPublicKey: vapid.publicKey,
	};
}

/** A browser's Web Push subscription: its ECDH key pair and auth secret, and the subscription JSON it sends. */
export async function browserSubscription(endpoint: string) {
	const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
		"deriveBits",
	])) as CryptoKeyPair;
	const p256dh = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
	const auth = crypto.getRandomValues(new Uint8Array(16));
	return {
		privateKey: pair.privateKey,
		subscription: { endpoint, keys: { p256dh: toBase64Url(p256dh), auth: toBase64Url(auth) } },
	};
}

async function hkdf(
	salt: Uint8Array,
	ikm: Uint8Array,
	info: Uint8Array,
	length: number,
): Promise<Uint8Array> {
	// HKDF by hand (RFC 5869) with HMAC, independent of the implementation under test.
	const hmac = async (key: Uint8Array, data: Uint8Array) =>
		new Uint8Array(
			await crypto.subtle.sign(
				"HMAC",
				await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
				data,
			),
		);
	const prk = await hmac(salt, ikm);
	const okm = await hmac(prk, new Uint8Array([...info, 1]));
	return okm.slice(0, length);
}

/** What a browser does with a Web Push body (RFC 8291 / RFC 8188 aes128gcm, one record): the plaintext. */
export async function decryptWebPush(
	body: Uint8Array,
	receiver: { privateKey: CryptoKey; p256dh: string; auth: string },
): Promise<string> {
	const salt = body.slice(0, 16);
	const idlen = body[20] as number;
	const senderPublic = body.slice(21, 21 + idlen);
	const ciphertext = body.slice(21 + idlen);
	const senderKey = await crypto.subtle.importKey(
		"raw",
		senderPublic,
		{ name: "ECDH", namedCurve: "P-256" },
		false,
		[],
	);
	const ecdh = new Uint8Array(
		await crypto.subtle.deriveBits(
			{ name: "ECDH", public: senderKey } as unknown as SubtleCryptoDeriveKeyAlgorithm,
			receiver.privateKey,
			256,
		),
	);
	const enc = new TextEncoder();
	const uaPublic = fromBase64Url(receiver.p256dh);
	const ikm = await hkdf(
		fromBase64Url(receiver.auth),
		ecdh,
		new Uint8Array([...enc.encode("WebPush: info\0"), ...uaPublic, ...senderPublic]),
		32,
	);
	const cek = await hkdf(salt, ikm, enc.encode("Content-Encoding: aes128gcm\0"), 16);
	const nonce = await hkdf(salt, ikm, enc.encode("Content-Encoding: nonce\0"), 12);
	const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["decrypt"]);
	const plain = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, key, ciphertext));
	// Strip the padding delimiter (0x02 for the last record) and any zero padding after it.
	let end = plain.length - 1;
	while (end >= 0 && plain[end] === 0) end--;
	if (plain[end] !== 2) throw new Error("not a final record");
	return new TextDecoder().decode(plain.slice(0, end));
}
