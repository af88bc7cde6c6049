import type { App } from "../../app.ts";
import type { HotRead } from "../../cache/hot-path.ts";
import {
	BoundedLru,
	CONSISTENCY_HEADER,
	cachedJson,
	cachedReadHeaders,
	decodeConsistencyToken,
	itemKey,
	minItemVersion,
	notModifiedResponse,
	readRequestParameters,
	readThrough,
	waitUntilOf,
} from "../../cache/index.ts";
import { findNation } from "../../db/queries/nations.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { NationCodeParam, type NationResponse, NationSchema, nationEntry } from "./schema.ts";

export type GetNationResponse = NationResponse;

export const route = defineRoute({
	method: "get",
	path: "/v1/nations/{code}",
	tags: ["nations"],
	summary: "One nation, by ISO alpha-2 or alpha-3 code in any case",
	access: { permission: "nations:read" },
	request: { params: NationCodeParam },
	parameters: readRequestParameters,
	responses: {
		200: {
			description: "The nation",
			headers: cachedReadHeaders,
			content: { "application/json": { schema: NationSchema } },
		},
		...notModifiedResponse,
		...problemResponses(400, 404, 406, 503),
	},
});

/**
 * The isolate hot path's view of this route (workers/cache/hot-path.ts): the key the handler below reads for
 * the same code, validated by the same schema.
 */
export const hotRead: HotRead = {
	route,
	path: /^\/v1\/nations\/([^/]+)$/,
	key: ([code]) => {
		if (code === undefined) return undefined;
		let key = hotKeys.get(code);
		if (key === undefined) {
			const parsed = NationCodeParam.safeParse({ code });
			if (!parsed.success) return undefined;
			key = itemKey("nations", parsed.data.code.toUpperCase());
			hotKeys.set(code, key, (code.length + key.length) * 2 + 64);
		}
		return key;
	},
};

/** The hot path's keys by code as requested: a code validates the same way every time (bounded memo). */
const hotKeys = new BoundedLru<string>({ maxEntries: 2_000, maxBytes: 500_000 });

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const code = c.req.valid("param").code.toUpperCase();
		const token = decodeConsistencyToken(c.req.header(CONSISTENCY_HEADER));
		const read = await readThrough(c.env, {
			key: itemKey("nations", code),
			minVersion: minItemVersion(token, "nations", code),
			waitUntil: waitUntilOf(c),
			load: async () => {
				const row = await findNation(c.var.db(), code);
				return row ? nationEntry(row) : null;
			},
		});
		if (!read) throw new ApiError("not_found", `No nation has the code '${code}'`);
		return cachedJson<GetNationResponse>(c, read);
	});
