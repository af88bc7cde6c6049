import { importPKCS8, SignJWT } from "jose";
import {
	networkFailure,
	PUSH_TIMEOUT_MS,
	type PushMessage,
	type PushOutcome,
	type PushProvider,
	type PushTarget,
	unconfiguredProvider,
} from "./provider.ts";

export interface ApnsConfig {
	/**
	 * `https://api.push.apple.com` (or api.sandbox.push.apple.com). APNs speaks only HTTP/2, which a Worker's
	 * outbound fetch does not negotiate with origins: production points this at an HTTP/2-capable relay that
	 * forwards the request unchanged (docs/events.md). Tests point it at a local receiver.
	 */
	baseUrl: string;
	/** The app's bundle id (`apns-topic`). */
	topic: string;
	teamId: string;
	keyId: string;
	/** The .p8 token-signing key (PKCS#8 PEM, P-256). */
	privateKey: string;
}

/** Provider tokens by key: Apple refuses tokens older than an hour and throttles minting more than every 20 minutes. */
const providerTokens = new Map<string, { token: string; issuedAt: number }>();
const PROVIDER_TOKEN_MAX = 4;
const PROVIDER_TOKEN_REUSE_MS = 50 * 60 * 1000;

/** The ES256 provider authentication token: header {alg, kid}, claims {iss: team id, iat}. */
export async function apnsProviderToken(config: ApnsConfig, now = Date.now()): Promise<string> {
	const cacheKey = `${config.teamId}|${config.keyId}`;
	const cached = providerTokens.get(cacheKey);
	if (cached && now - cached.issuedAt < PROVIDER_TOKEN_REUSE_MS) return cached.token;
	const key = await importPKCS8(config.privateKey, "ES256");
	const token = await new SignJWT({})
		.setProtectedHeader({ alg: "ES256", kid: config.keyId })
		.setIssuer(config.teamId)
		.setIssuedAt(Math.floor(now / 1000))
		.sign(key);
	if (providerTokens.size >= PROVIDER_TOKEN_MAX)
		providerTokens.delete(providerTokens.keys().next().value as string);
	providerTokens.set(cacheKey, { token, issuedAt: now });
	return token;
}

/** The notification payload: the `aps` dictionary plus the custom keys. */
export function apnsPayload(message: PushMessage) {
	return { aps: { alert: { title: message.title, body: message.body }, sound: "default" }, ...message.data };
}

export function createApnsProvider(config: ApnsConfig | { missing: string[] }): PushProvider {
	if ("missing" in config) return unconfiguredProvider("apns", config.missing);
	const base = config.baseUrl.replace(/\/$/, "");
	return {
		platform: "apns",
		async send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
			if (!/^[0-9a-fA-F]{32,400}$/.test(target.token)) {
				return { status: "invalid_token", httpStatus: null, error: "not an APNs device token (hex)" };
			}
			let response: Response;
			try {
				response = await fetch(`${base}/3/device/${target.token}`, {
					method: "POST",
					headers: {
						authorization: `bearer ${await apnsProviderToken(config)}`,
						"apns-topic": config.topic,
						"apns-push-type": "alert",
						"apns-priority": "10",
						"apns-expiration": String(Math.floor(Date.now() / 1000) + message.ttlSeconds),
						"apns-collapse-id": message.collapseId.slice(0, 64),
						"content-type": "application/json",
					},
					body: JSON.stringify(apnsPayload(message)),
					signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
				});
			} catch (error) {
				return networkFailure(error);
			}
			if (response.status === 200) {
				await response.body?.cancel();
				return { status: "sent", httpStatus: 200, messageId: response.headers.get("apns-id") };
			}
			const text = await response.text().catch(() => "");
			const reason = (() => {
				try {
					return String((JSON.parse(text) as { reason?: unknown }).reason ?? "");
				} catch {
					return "";
				}
			})();
			const error = `${response.status} ${reason || text.slice(0, 500)}`.trim();
			if (
				response.status === 410 ||
				reason === "BadDeviceToken" ||
				reason === "Unregistered" ||
				reason === "DeviceTokenNotForTopic"
			) {
				return { status: "invalid_token", httpStatus: response.status, error };
			}
			if (reason === "ExpiredProviderToken" || reason === "InvalidProviderToken") {
				providerTokens.delete(`${config.teamId}|${config.keyId}`);
				return { status: "retry", httpStatus: response.status, error };
			}
			if (response.status === 429 || response.status >= 500)
				return { status: "retry", httpStatus: response.status, error };
			return { status: "failed", httpStatus: response.status, error };
		},
	};
}
