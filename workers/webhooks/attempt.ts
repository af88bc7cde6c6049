import { parseRetryAfter } from "./schedule.ts";
import type { SignedHeaders } from "./signing.ts";

/** How long one attempt may take, from connecting to the end of the response headers. */
export const ATTEMPT_TIMEOUT_MS = 15_000;
/** How much of a receiver's answer is kept on the attempt record. */
export const RESPONSE_EXCERPT_BYTES = 1024;
export const USER_AGENT = "Covenant-Webhooks/1.0 (+https://docs.covenant.example/webhooks)";

/**
 * What one HTTP attempt came to:
 * - `delivered`: a 2xx;
 * - `retryable`: 429, a 5xx, a timeout or a network error (the receiver may recover);
 * - `gone`: 410, the receiver asks us to stop (the endpoint is disabled);
 * - `rejected`: any other answer, redirects included (not followed: the URL the partner registered is the
 *   one we post to); counted as a failure and not retried, since sending the same request again cannot help.
 */
export type AttemptVerdict = "delivered" | "retryable" | "gone" | "rejected";

export interface AttemptReport {
	verdict: AttemptVerdict;
	statusCode: number | null;
	durationMs: number;
	error: string | null;
	responseExcerpt: string | null;
	/** The receiver's Retry-After in seconds, when it sent one with a retryable answer. */
	retryAfterSeconds?: number;
}

export function classifyStatus(status: number): AttemptVerdict {
	if (status >= 200 && status < 300) return "delivered";
	if (status === 410) return "gone";
	if (status === 429 || status >= 500) return "retryable";
	return "rejected";
}

/** POSTs one signed message. Never throws: every outcome is a report. */
export async function postMessage(
	url: string,
	body: string,
	signed: SignedHeaders,
	options: { timeoutMs?: number; now?: () => Date } = {},
): Promise<AttemptReport> {
	const timeoutMs = options.timeoutMs ?? ATTEMPT_TIMEOUT_MS;
	const started = performance.now();
	const elapsed = () => Math.max(0, Math.round(performance.now() - started));
	const signal = AbortSignal.timeout(timeoutMs);
	let response: Response;
	try {
		response = await fetch(url, {
			method: "POST",
			body,
			redirect: "manual",
			signal,
			headers: {
				"content-type": "application/json",
				"user-agent": USER_AGENT,
				...signed,
			},
		});
	} catch (error) {
		const timedOut = signal.aborted;
		return {
			verdict: "retryable",
			statusCode: null,
			durationMs: elapsed(),
			error: timedOut ? `timed out after ${timeoutMs / 1000} s` : `request failed: ${errorMessage(error)}`,
			responseExcerpt: null,
		};
	}
	const excerpt = await readExcerpt(response);
	const verdict = classifyStatus(response.status);
	const report: AttemptReport = {
		verdict,
		statusCode: response.status,
		durationMs: elapsed(),
		error: verdict === "delivered" ? null : describeFailure(response),
		responseExcerpt: excerpt,
	};
	if (verdict === "retryable") {
		report.retryAfterSeconds = parseRetryAfter(
			response.headers.get("retry-after"),
			options.now?.() ?? new Date(),
		);
	}
	return report;
}

function describeFailure(response: Response): string {
	if (response.status >= 300 && response.status < 400) {
		const location = response.headers.get("location");
		return `redirect ${response.status}${location ? ` to ${location.slice(0, 200)}` : ""} (redirects are not followed; register the final URL)`;
	}
	if (response.status === 410) return "410 Gone: the receiver asked to stop; the endpoint was disabled";
	return `HTTP ${response.status}`;
}

/** The first kilobyte of the body as text; the rest is cancelled so the connection is released at once. */
async function readExcerpt(response: Response): Promise<string | null> {
	if (!response.body) return null;
	const reader = response.body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	try {
		while (size < RESPONSE_EXCERPT_BYTES) {
			const { done, value } = await reader.read();
			if (done) break;
			chunks.push(value);
			size += value.byteLength;
		}
	} catch {
		// A body cut off mid-way still leaves what arrived; the status is what counts.
	} finally {
		reader.cancel().catch(() => {});
	}
	if (size === 0) return null;
	const bytes = new Uint8Array(size);
	let offset = 0;
	for (const chunk of chunks) {
		bytes.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return new TextDecoder().decode(bytes.subarray(0, RESPONSE_EXCERPT_BYTES));
}

function errorMessage(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
