import { ApiError } from "../lib/problem.ts";
import { base64url, fromBase64url } from "./entry.ts";
import { CACHED_RESOURCES, type CachedResource } from "./keys.ts";

/** Writes answer with this header; a read that sends it back is served data at least as new as that write. */
export const CONSISTENCY_HEADER = "consistency-token";
/** Tokens this API issues stay far below this; longer ones are refused before any decoding. */
export const MAX_TOKEN_LENGTH = 512;

/**
 * What a write returns so its client can read its own write anywhere: the resource's list version after the
 * write, and the written item's ids (every key it is cached under) with its new row version.
 */
export interface ConsistencyToken {
	resource: CachedResource;
	listVersion: number;
	ids: string[];
	version: number;
}

export function encodeConsistencyToken(token: ConsistencyToken): string {
	const compact = { r: token.resource, l: token.listVersion, i: token.ids, v: token.version };
	return base64url(new TextEncoder().encode(JSON.stringify(compact)));
}

/** Parses the header; a malformed token is the client's mistake and answers 400 rather than being ignored. */
export function decodeConsistencyToken(raw: string | undefined): ConsistencyToken | undefined {
	if (raw === undefined || raw === "") return undefined;
	const invalid = () =>
		new ApiError("invalid_request", `The ${CONSISTENCY_HEADER} header is not a token this API issued`, {
			errors: [{ path: ["headers", CONSISTENCY_HEADER], message: "malformed token", code: "invalid_token" }],
		});
	if (raw.length > MAX_TOKEN_LENGTH) throw invalid();
	let compact: unknown;
	try {
		compact = JSON.parse(new TextDecoder().decode(fromBase64url(raw.trim())));
	} catch {
		throw invalid();
	}
	if (typeof compact !== "object" || compact === null) throw invalid();
	const { r, l, i, v } = compact as Record<string, unknown>;
	const validIds =
		Array.isArray(i) && i.length <= 4 && i.every((id) => typeof id === "string" && id.length <= 64);
	if (
		!(CACHED_RESOURCES as readonly unknown[]).includes(r) ||
		!Number.isSafeInteger(l) ||
		!Number.isSafeInteger(v) ||
		!validIds
	) {
		throw invalid();
	}
	return {
		resource: r as CachedResource,
		listVersion: l as number,
		ids: i as string[],
		version: v as number,
	};
}

/** The row version a read of `resource/id` must at least return under this token (0: no constraint). */
export function minItemVersion(
	token: ConsistencyToken | undefined,
	resource: CachedResource,
	id: string,
): number {
	return token && token.resource === resource && token.ids.includes(id) ? token.version : 0;
}

/** The list version each dependency must at least have under this token (0: no constraint). */
export function minListVersions(
	token: ConsistencyToken | undefined,
	dependsOn: readonly CachedResource[],
): number[] {
	return dependsOn.map((resource) => (token && token.resource === resource ? token.listVersion : 0));
}
