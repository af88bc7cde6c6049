import { importPKCS8, SignJWT } from "jose";
import { z } from "zod";
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

/** The fields of a Google service account key file (JSON) that the OAuth 2.0 JWT bearer flow needs. */
export const ServiceAccount = z.object({
	client_email: z.string().min(1),
	private_key: z.string().includes("PRIVATE KEY"),
	private_key_id: z.string().optional(),
	token_uri: z.url().default("https://oauth2.googleapis.com/token"),
});
export type ServiceAccount = z.infer<typeof ServiceAccount>;

export interface FcmConfig {
	/** `https://fcm.googleapis.com` in production; a local receiver in tests. */
	baseUrl: string;
	projectId: string;
	serviceAccount: ServiceAccount;
}

const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";

/** Access tokens by service account, reused until a minute before they expire (bounded: a handful of accounts). */
const tokenCache = new Map<string, { token: string; expiresAt: number }>();
const TOKEN_CACHE_MAX = 4;

/**
 * An OAuth 2.0 access token for FCM: a JWT signed with the service account's RS256 key, exchanged at its
 * token_uri (RFC 7523 JWT bearer grant).
 */
export async function fcmAccessToken(account: ServiceAccount, now = Date.now()): Promise<string> {
	const cacheKey = `${account.client_email}|${account.token_uri}`;
	const cached = tokenCache.get(cacheKey);
	if (cached && cached.expiresAt - 60_000 > now) return cached.token;

	const key = await importPKCS8(account.private_key, "RS256");
	const iat = Math.floor(now / 1000);
	const assertion = await new SignJWT({ scope: FCM_SCOPE })
		.setProtectedHeader({
			alg: "RS256",
			typ: "JWT",
			...(account.private_key_id ? { kid: account.private_key_id } : {}),
		})
		.setIssuer(account.client_email)
		.setAudience(account.token_uri)
		.setIssuedAt(iat)
		.setExpirationTime(iat + 3600)
		.sign(key);
	const response = await fetch(account.token_uri, {
		method: "POST",
		headers: { "content-type": "application/x-www-form-urlencoded" },
		body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
		signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
	});
	if (!response.ok) throw new Error(`FCM token exchange failed: ${await responseExcerpt(response)}`);
	const body = z
		.object({ access_token: z.string().min(1), expires_in: z.number().positive() })
		.parse(await response.json());
	if (tokenCache.size >= TOKEN_CACHE_MAX) tokenCache.delete(tokenCache.keys().next().value as string);
	tokenCache.set(cacheKey, { token: body.access_token, expiresAt: now + body.expires_in * 1000 });
	return body.access_token;
}

/** The HTTP v1 `messages:send` body (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages). */
export function fcmRequestBody(target: PushTarget, message: PushMessage) {
	return {
		message: {
			token: target.token,
			notification: { title: message.title, body: message.body },
			data: message.data,
			android: { ttl: `${message.ttlSeconds}s`, priority: "HIGH" },
			apns: { headers: { "apns-collapse-id": message.collapseId.slice(0, 64) } },
		},
	};
}

const FcmError = z.object({
	error: z.object({
		status: z.string().optional(),
		details: z.array(z.object({ errorCode: z.string().optional() }).loose()).optional(),
	}),
});

export function createFcmProvider(config: FcmConfig | { missing: string[] }): PushProvider {
	if ("missing" in config) return unconfiguredProvider("fcm", config.missing);
	const url = `${config.baseUrl.replace(/\/$/, "")}/v1/projects/${encodeURIComponent(config.projectId)}/messages:send`;
	return {
		platform: "fcm",
		async send(target, message): Promise<PushOutcome> {
			let response: Response;
			try {
				const token = await fcmAccessToken(config.serviceAccount);
				response = await fetch(url, {
					method: "POST",
					headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
					body: JSON.stringify(fcmRequestBody(target, message)),
					signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
				});
			} catch (error) {
				return networkFailure(error);
			}
			if (response.ok) {
				const body = (await response.json().catch(() => ({}))) as { name?: unknown };
				return {
					status: "sent",
					httpStatus: response.status,
					messageId: typeof body.name === "string" ? body.name : null,
				};
			}
			const text = await response.text().catch(() => "");
			const error = `${response.status} ${text.slice(0, 500)}`.trim();
			const parsed = FcmError.safeParse(safeJson(text));
			const codes = parsed.success ? (parsed.data.error.details ?? []).map((d) => d.errorCode) : [];
			if (response.status === 404 || codes.includes("UNREGISTERED")) {
				return { status: "invalid_token", httpStatus: response.status, error };
			}
			if (response.status === 401) {
				// The cached access token was revoked or expired early: drop it so the retry mints a new one.
				tokenCache.delete(`${config.serviceAccount.client_email}|${config.serviceAccount.token_uri}`);
				return { status: "retry", httpStatus: response.status, error };
			}
			if (response.status === 429 || response.status >= 500)
				return { status: "retry", httpStatus: response.status, error };
			if (codes.includes("INVALID_ARGUMENT") && /registration token/i.test(error)) {
				return { status: "invalid_token", httpStatus: response.status, error };
			}
			return { status: "failed", httpStatus: response.status, error };
		},
	};
}

function safeJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}
