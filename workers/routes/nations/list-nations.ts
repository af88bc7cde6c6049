import { z } from "@hono/zod-openapi";
import type { App } from "../../app.ts";
import {
	CONSISTENCY_HEADER,
	cachedJson,
	cachedReadHeaders,
	canonicalQuery,
	createEntry,
	decodeConsistencyToken,
	minListVersions,
	notModifiedResponse,
	readDependent,
	readRequestParameters,
	waitUntilOf,
} from "../../cache/index.ts";
import { listNations } from "../../db/queries/nations.ts";
import {
	DEFAULT_PAGE_SIZE,
	decodeCursor,
	fingerprint,
	MAX_PAGE_SIZE,
	toPage,
} from "../../db/queries/pagination.ts";
import { COVENANT_STATUSES } from "../../domain/contribution.ts";
import { M49_REGIONS, SERVING_REGIONS } from "../../domain/serving-regions.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { anyCase, NationSchema, presentNation } from "./schema.ts";

export const ListNationsQuery = z
	.object({
		region: anyCase(M49_REGIONS).optional().openapi({ description: "UN M49 region, any case" }),
		serving_region: anyCase(SERVING_REGIONS).optional(),
		status: anyCase(COVENANT_STATUSES).optional().openapi({ description: "Covenant status" }),
		q: z.string().trim().min(1).max(200).optional().openapi({
			description:
				'Full-text search over name, official name, codes, capital and sub-region (web-search syntax: "a phrase", or, -exclude)',
		}),
		cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
	})
	.strict();

export const NationPageSchema = z
	.object({
		data: z.array(NationSchema),
		next_cursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next page; null on the last" }),
	})
	.openapi("NationPage");
export type NationPageResponse = z.infer<typeof NationPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/nations",
	tags: ["nations"],
	summary: "List nations, filtered, in ISO alpha-2 order",
	description:
		"Keyset-paginated: follow `next_cursor` until it is null to see every matching nation exactly once. Served from the edge cache; list pages are invalidated by any nation write.",
	access: { permission: "nations:read" },
	request: { query: ListNationsQuery },
	parameters: readRequestParameters,
	responses: {
		200: {
			description: "A page of nations",
			headers: cachedReadHeaders,
			content: { "application/json": { schema: NationPageSchema } },
		},
		...notModifiedResponse,
		...problemResponses(400, 406, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { cursor, limit, ...filters } = c.req.valid("query");
		const filterKey = canonicalQuery(filters);
		const print = fingerprint(filterKey);
		const after = decodeCursor(cursor, print);
		const token = decodeConsistencyToken(c.req.header(CONSISTENCY_HEADER));
		const read = await readDependent(c.env, {
			resource: "nations",
			dependsOn: ["nations"],
			minVersions: minListVersions(token, ["nations"]),
			query: canonicalQuery({ ...filters, after, limit }),
			waitUntil: waitUntilOf(c),
			load: async () => {
				const rows = await listNations(
					c.var.db(),
					{
						region: filters.region,
						servingRegion: filters.serving_region,
						status: filters.status,
						q: filters.q,
					},
					{ after, limit },
				);
				return createEntry(toPage(rows, limit, (row) => row.iso2, presentNation, print));
			},
		});
		// A list always exists; readDependent only answers null for a missing item.
		if (!read) throw new Error("a nation list page cannot be missing");
		return cachedJson<NationPageResponse>(c, read);
	});
