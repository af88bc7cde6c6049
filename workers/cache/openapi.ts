import { z } from "@hono/zod-openapi";
import { CONSISTENCY_HEADER, MAX_TOKEN_LENGTH } from "./consistency.ts";

/**
 * The OpenAPI pieces every cached read and every write-through write shares, so the document describes the
 * headers the cache layer actually sends.
 */
const text = (description: string, extra: Record<string, unknown> = {}) => ({
	description,
	schema: { type: "string" as const, ...extra },
});

const etag = text(
	"Strong entity tag of this representation; send it in If-None-Match (reads) or If-Match (writes)",
);

export const cachedReadHeaders = {
	ETag: etag,
	"Cache-Control": text(
		"`private, no-cache`: a client may keep the body but revalidates it (cheap 304) before reuse",
	),
	"X-Cache": text(
		"HIT: served by the edge cache; MISS: read from Postgres; STALE: past its freshness, served because Postgres is unreachable",
		{ enum: ["HIT", "MISS", "STALE"] },
	),
	Age: text("Seconds since Postgres produced this representation (on HIT and STALE)"),
	Warning: text('`110 - "Response is Stale"` on STALE'),
	Vary: text("Authorization"),
};

export const notModifiedResponse = {
	304: {
		description: "Not modified: If-None-Match names the current ETag",
		headers: { ETag: etag, "X-Cache": cachedReadHeaders["X-Cache"] },
	},
};

export const writeResponseHeaders = {
	ETag: etag,
	[CONSISTENCY_HEADER]: text(
		"Send it back on reads (same header) to be served data at least as new as this write, from any edge",
	),
	"Cache-Control": text("no-store"),
};

/**
 * The conditional and consistency headers every cached read accepts, as plain OpenAPI parameters: they are
 * documented but not run through a zod validator, which would copy and parse every request header on the
 * hottest path of the API. The handler reads the two headers itself (a malformed consistency token is a 400).
 */
export const readRequestParameters = [
	{
		name: "If-None-Match",
		in: "header" as const,
		required: false,
		description: "ETag(s) the client holds; a match answers 304 without a body",
		schema: { type: "string" as const },
	},
	{
		name: CONSISTENCY_HEADER,
		in: "header" as const,
		required: false,
		description: "The token a write returned: the read reflects at least that write",
		schema: { type: "string" as const, maxLength: MAX_TOKEN_LENGTH },
	},
];

export const writeRequestHeaders = z.object({
	"if-match": z.string().max(1024).optional().openapi({
		description: "Apply the write only if the current ETag matches (optimistic concurrency), else 412",
	}),
});

/**
 * A write body that refuses every field it does not list (never silently ignored, never mass-assigned),
 * telling read-only fields (ids, timestamps, computed money) apart from unknown ones in the 400's message.
 */
export function strictBody<const S extends z.core.$ZodLooseShape>(shape: S, readOnly: readonly string[]) {
	return z.strictObject(shape, {
		error: (issue) => {
			if (issue.code !== "unrecognized_keys") return undefined;
			const described = issue.keys.map((key) =>
				readOnly.includes(key) ? `${key} (read-only)` : `${key} (unknown field)`,
			);
			return `These fields cannot be set: ${described.join(", ")}`;
		},
	});
}
