import type { DevicePlatform } from "../../workers/db/schema/notifications.ts";

/** One notification, provider-neutral. */
export interface PushMessage {
	title: string;
	body: string;
	/** Delivered to the app beside the notification (event id, type, deep link); string values only. */
	data: Record<string, string>;
	/** Lets a provider replace a duplicate of the same notification instead of showing it twice. */
	collapseId: string;
	/** How long the provider may hold it for an offline device. */
	ttlSeconds: number;
}

/** Where it goes: an FCM or APNs token, or a Web Push subscription (endpoint + keys). */
export interface PushTarget {
	token: string;
	p256dh: string | null;
	auth: string | null;
}

/**
 * What the provider answered. `invalid_token`: the device is gone (uninstalled, unsubscribed) and is disabled;
 * `retry`: a transient failure (rate limit, outage) the sweep tries again; `failed`: a permanent refusal.
 */
export type PushOutcome =
	| { status: "sent"; httpStatus: number; messageId: string | null }
	| { status: "invalid_token" | "retry" | "failed"; httpStatus: number | null; error: string };

export interface PushProvider {
	platform: DevicePlatform;
	send(target: PushTarget, message: PushMessage): Promise<PushOutcome>;
}

/** Every provider request gives up after this long (the sweep retries). */
export const PUSH_TIMEOUT_MS = 10_000;

/** A provider whose credentials are not set: it refuses every delivery with a clear reason. */
export function unconfiguredProvider(platform: DevicePlatform, missing: string[]): PushProvider {
	return {
		platform,
		async send() {
			return {
				status: "failed",
				httpStatus: null,
				error: `${platform} provider not configured: set ${missing.join(", ")}`,
			};
		},
	};
}

/** The outcome of a fetch that threw (DNS, connection, timeout): always worth a retry. */
export function networkFailure(error: unknown): PushOutcome {
	return {
		status: "retry",
		httpStatus: null,
		error: `network: ${error instanceof Error ? error.message : String(error)}`,
	};
}

/** A bounded response excerpt for the delivery record. */
export async function responseExcerpt(response: Response): Promise<string> {
	const text = await response.text().catch(() => "");
	return `${response.status} ${text.slice(0, 500)}`.trim();
}
