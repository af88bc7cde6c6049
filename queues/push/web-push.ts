import { SignJWT } from "jose";
import { fromBase64Url, toBase64Url } from "./base64url.ts";
import {
	networkFailure,
	PUSH_TIMEOUT_MS,
	type PushMessage,
	type PushOutcome,
	type PushProvider,
	type PushTarget,
	responseExcerpt,
	unconfiguredProvider,
} from "./provider.ts";
import { encryptWebPush, MAX_PLAINTEXT_BYTES } from "./web-push-crypto.ts";

export interface WebPushConfig {
	/** The VAPID key pair (RFC 8292): uncompressed public point and private scalar, both base64url. */
	vapidPublicKey: string;
	vapidPrivateKey: string;
	/** `mailto:` or `https:` contact the push service can reach the operator at. */
	subject: string;
	/** Push service hosts (suffix match) the worker may post to; endpoints come from browsers. */
	allowedHosts: string[];
}

/** Whether an endpoint may receive pushes: https on an allowed push service (http only for loopback). */
export function endpointAllowed(endpoint: string, allowedHosts: readonly string[]): boolean {
	let url: URL;
	try {
		url = new URL(endpoint);
	} catch {
		return false;
	}
	const host = url.hostname;
	const loopback = host === "127.0.0.1" || host === "localhost" || host === "[::1]";
	if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) return false;
	return allowedHosts.some((allowed) => host === allowed || host.endsWith(`.${allowed}`));
}

async function vapidSigningKey(config: WebPushConfig): Promise<CryptoKey> {
	const publicKey = fromBase64Url(config.vapidPublicKey);
	if (publicKey.length !== 65 || publicKey[0] !== 0x04) {
		throw new Error("VAPID_PUBLIC_KEY is not an uncompressed P-256 point (65 bytes, base64url)");
	}
	return crypto.subtle.importKey(
		"jwk",
		{
			kty: "EC",
			crv: "P-256",
			d: config.vapidPrivateKey,
			x: toBase64Url(publicKey.slice(1, 33)),
			y: toBase64Url(publicKey.slice(33, 65)),
		},
		{ name: "ECDSA", namedCurve: "P-256" },
		false,
		["sign"],
	);
}

/** `Authorization: vapid t=<JWT>, k=<public key>` for one push service origin (RFC 8292 §3). */
export async function vapidAuthorization(
	config: WebPushConfig,
	endpoint: string,
	now = new Date(),
): Promise<string> {
	const key = await vapidSigningKey(config);
	const iat = Math.floor(now.getTime() / 1000);
	const jwt = await new SignJWT({ sub: config.subject })
		.setProtectedHeader({ typ: "JWT", alg: "ES256" })
		.setAudience(new URL(endpoint).origin)
		// RFC 8292: no more than 24 hours ahead.
		.setExpirationTime(iat + 12 * 3600)
		.sign(key);
	return `vapid t=${jwt}, k=${config.vapidPublicKey}`;
}

const encoder = new TextEncoder();

/** The notification as the service worker receives it (JSON), shortened to fit one record. */
export function webPushPayload(message: PushMessage): Uint8Array {
	const payload = { title: message.title, body: message.body, data: message.data };
	let bytes = encoder.encode(JSON.stringify(payload));
	if (bytes.length > MAX_PLAINTEXT_BYTES) {
		const overflow = bytes.length - MAX_PLAINTEXT_BYTES;
		payload.body = `${message.body.slice(0, Math.max(0, message.body.length - overflow - 1))}…`;
		bytes = encoder.encode(JSON.stringify(payload));
	}
	return bytes;
}

/** `Topic` (RFC 8030 §5.4): at most 32 base64url characters; a pending message with the same topic is replaced. */
async function topicOf(collapseId: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", encoder.encode(collapseId));
	return toBase64Url(new Uint8Array(digest)).slice(0, 32);
}

export function createWebPushProvider(config: WebPushConfig | { missing: string[] }): PushProvider {
	if ("missing" in config) return unconfiguredProvider("webpush", config.missing);
	return {
		platform: "webpush",
		async send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
			if (!target.p256dh || !target.auth) {
				return { status: "invalid_token", httpStatus: null, error: "subscription has no p256dh/auth keys" };
			}
			if (!endpointAllowed(target.token, config.allowedHosts)) {
				return { status: "failed", httpStatus: null, error: "endpoint host is not an allowed push service" };
			}
			let body: Uint8Array;
			try {
				body = await encryptWebPush(webPushPayload(message), { p256dh: target.p256dh, auth: target.auth });
			} catch (error) {
				return {
					status: "invalid_token",
					httpStatus: null,
					error: `subscription keys unusable: ${String(error)}`,
				};
			}
			let response: Response;
			try {
				response = await fetch(target.token, {
					method: "POST",
					headers: {
						authorization: await vapidAuthorization(config, target.token),
						"content-encoding": "aes128gcm",
						"content-type": "application/octet-stream",
						ttl: String(message.ttlSeconds),
						urgency: "normal",
						topic: await topicOf(message.collapseId),
					},
					body,
					signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
				});
			} catch (error) {
				return networkFailure(error);
			}
			if (response.status === 201 || response.status === 200 || response.status === 202) {
				await response.body?.cancel();
				return { status: "sent", httpStatus: response.status, messageId: response.headers.get("location") };
			}
			const error = await responseExcerpt(response);
			// 404/410: the subscription expired or was removed (RFC 8030 §7.3).
			if (response.status === 404 || response.status === 410)
				return { status: "invalid_token", httpStatus: response.status, error };
			if (response.status === 429 || response.status >= 500)
				return { status: "retry", httpStatus: response.status, error };
			return { status: "failed", httpStatus: response.status, error };
		},
	};
}
