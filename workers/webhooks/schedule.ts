/**
 * The retry schedule (docs/webhooks.md has it as a table). A message is attempted at once, then after each
 * delay below: 13 attempts over about 3 days and 5 hours. Every delay is at most 12 hours, the longest a
 * Cloudflare Queue can delay one message, so each retry is one `msg.retry({ delaySeconds })`.
 */
export const RETRY_DELAYS_SECONDS: readonly number[] = [
	10, // 10 s
	60, // 1 min
	5 * 60, // 5 min
	30 * 60, // 30 min
	2 * 3600, // 2 h
	5 * 3600, // 5 h
	10 * 3600, // 10 h
	12 * 3600, // 12 h
	12 * 3600,
	12 * 3600,
	12 * 3600,
	12 * 3600,
];

/** The number of attempts a message gets before it is marked failed (the first plus one per delay). */
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;

/** Cloudflare Queues' largest `delaySeconds`. Longer waits (a long Retry-After) are chained. */
export const QUEUE_MAX_DELAY_SECONDS = 12 * 3600;

/** Each delay is drawn uniformly from [1 - JITTER, 1] x nominal, so endpoints recovering from an outage are
 * not hit by every retry in the same second, and the nominal table stays an upper bound. */
export const JITTER = 0.1;

/** A receiver's Retry-After is honoured up to this long; beyond it the receiver is treated as down. */
export const MAX_RETRY_AFTER_SECONDS = 24 * 3600;

/** An endpoint whose deliveries have failed without a single success for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3600 * 1000;

/**
 * How long to wait before the next attempt after `attemptsMade` failed ones in this cycle, or undefined when
 * the schedule is exhausted. A Retry-After the receiver sent is a floor: we never come back sooner than it
 * asked, and never sooner than the schedule.
 */
export function nextDelaySeconds(
	attemptsMade: number,
	retryAfterSeconds: number | undefined,
	random: () => number = Math.random,
): number | undefined {
	const nominal = RETRY_DELAYS_SECONDS[attemptsMade - 1];
	if (nominal === undefined) return undefined;
	const jittered = Math.max(1, Math.round(nominal * (1 - JITTER * random())));
	if (retryAfterSeconds === undefined) return jittered;
	return Math.max(jittered, Math.min(retryAfterSeconds, MAX_RETRY_AFTER_SECONDS));
}

/** Retry-After as seconds from `now`: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined if absent or
 * unreadable (a receiver's malformed header must not stall its retries). */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
	if (value === null) return undefined;
	const trimmed = value.trim();
	if (/^\d+$/.test(trimmed)) return Number(trimmed);
	const date = Date.parse(trimmed);
	if (Number.isNaN(date)) return undefined;
	return Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}
