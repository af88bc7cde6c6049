import type { DevicePlatform } from "../../workers/db/schema/notifications.ts";
import { type ApnsConfig, createApnsProvider } from "./apns.ts";
import { createFcmProvider, type FcmConfig, ServiceAccount } from "./fcm.ts";
import type { PushProvider } from "./provider.ts";
import { createWebPushProvider, type WebPushConfig } from "./web-push.ts";

/** The push settings: vars in wrangler.toml, the three keys as secrets (absent from the generated Env). */
export type PushEnv = Pick<
	Env,
	| "FCM_BASE_URL"
	| "FCM_PROJECT_ID"
	| "APNS_BASE_URL"
	| "APNS_TOPIC"
	| "APNS_TEAM_ID"
	| "APNS_KEY_ID"
	| "VAPID_PUBLIC_KEY"
	| "VAPID_SUBJECT"
	| "WEB_PUSH_ALLOWED_HOSTS"
> & {
	FCM_SERVICE_ACCOUNT?: string;
	APNS_PRIVATE_KEY?: string;
	VAPID_PRIVATE_KEY?: string;
};

const missingOf = (entries: Record<string, string | undefined>) =>
	Object.entries(entries)
		.filter(([, value]) => !value)
		.map(([name]) => name);

export function fcmConfig(env: PushEnv): FcmConfig | { missing: string[] } {
	const missing = missingOf({
		FCM_PROJECT_ID: env.FCM_PROJECT_ID,
		FCM_SERVICE_ACCOUNT: env.FCM_SERVICE_ACCOUNT,
	});
	if (missing.length > 0) return { missing };
	let account: ServiceAccount;
	try {
		account = ServiceAccount.parse(JSON.parse(env.FCM_SERVICE_ACCOUNT as string));
	} catch {
		return { missing: ["FCM_SERVICE_ACCOUNT (a valid service account key JSON)"] };
	}
	return {
		baseUrl: env.FCM_BASE_URL || "https://fcm.googleapis.com",
		projectId: env.FCM_PROJECT_ID,
		serviceAccount: account,
	};
}

export function apnsConfig(env: PushEnv): ApnsConfig | { missing: string[] } {
	const missing = missingOf({
		APNS_TOPIC: env.APNS_TOPIC,
		APNS_TEAM_ID: env.APNS_TEAM_ID,
		APNS_KEY_ID: env.APNS_KEY_ID,
		APNS_PRIVATE_KEY: env.APNS_PRIVATE_KEY,
	});
	if (missing.length > 0) return { missing };
	return {
		baseUrl: env.APNS_BASE_URL || "https://api.push.apple.com",
		topic: env.APNS_TOPIC,
		teamId: env.APNS_TEAM_ID,
		keyId: env.APNS_KEY_ID,
		privateKey: env.APNS_PRIVATE_KEY as string,
	};
}

export function webPushConfig(env: PushEnv): WebPushConfig | { missing: string[] } {
	const missing = missingOf({
		VAPID_PUBLIC_KEY: env.VAPID_PUBLIC_KEY,
		VAPID_PRIVATE_KEY: env.VAPID_PRIVATE_KEY,
		VAPID_SUBJECT: env.VAPID_SUBJECT,
	});
	if (missing.length > 0) return { missing };
	return {
		vapidPublicKey: env.VAPID_PUBLIC_KEY,
		vapidPrivateKey: env.VAPID_PRIVATE_KEY as string,
		subject: env.VAPID_SUBJECT,
		allowedHosts: webPushAllowedHosts(env),
	};
}

export function webPushAllowedHosts(env: Pick<PushEnv, "WEB_PUSH_ALLOWED_HOSTS">): string[] {
	return (env.WEB_PUSH_ALLOWED_HOSTS ?? "")
		.split(",")
		.map((h) => h.trim().toLowerCase())
		.filter(Boolean);
}

/** One provider per platform; a platform whose settings are missing refuses with the names of what is missing. */
export function createPushProviders(env: PushEnv): Record<DevicePlatform, PushProvider> {
	return {
		fcm: createFcmProvider(fcmConfig(env)),
		apns: createApnsProvider(apnsConfig(env)),
		webpush: createWebPushProvider(webPushConfig(env)),
	};
}
