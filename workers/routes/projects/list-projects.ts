import { z } from "@hono/zod-openapi";
import { SECTOR_SLUGS } from "../../../queues/envelope.ts";
import type { App } from "../../app.ts";
import type { Visibility } from "../../auth/permissions.ts";
import type { Principal } from "../../auth/principal.ts";
import type { HotRead } from "../../cache/hot-path.ts";
import {
	BoundedLru,
	CONSISTENCY_HEADER,
	cachedJson,
	cachedReadHeaders,
	canonicalQuery,
	createEntry,
	decodeConsistencyToken,
	minListVersions,
	notModifiedResponse,
	readableDependentKey,
	readDependent,
	readRequestParameters,
	recentListVersion,
	waitUntilOf,
} from "../../cache/index.ts";
import {
	DEFAULT_PAGE_SIZE,
	decodeCursor,
	fingerprint,
	MAX_PAGE_SIZE,
	toPage,
} from "../../db/queries/pagination.ts";
import { listProjects } from "../../db/queries/projects.ts";
import { M49_REGIONS, SERVING_REGIONS } from "../../domain/serving-regions.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { anyCase } from "../nations/schema.ts";
import { PROJECT_STATUSES, ProjectSchema, presentProject } from "./schema.ts";

export const ListProjectsQuery = z
	.object({
		sector: anyCase(SECTOR_SLUGS).optional(),
		region: anyCase(M49_REGIONS)
			.optional()
			.openapi({ description: "UN M49 region of the host nation, any case" }),
		serving_region: anyCase(SERVING_REGIONS).optional(),
		nation: z
			.string()
			.regex(/^[A-Za-z]{2,3}$/, "must be an ISO 3166-1 alpha-2 or alpha-3 code")
			.optional()
			.openapi({ description: "Host nation, ISO alpha-2 or alpha-3, any case" }),
		status: anyCase(PROJECT_STATUSES).optional(),
		q: z.string().trim().min(1).max(200).optional().openapi({
			description:
				'Full-text search (English stemming) over name, summary and sector, web-search syntax: "a phrase", or, -exclude',
		}),
		cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
	})
	.strict();

export const ProjectPageSchema = z
	.object({
		data: z.array(ProjectSchema),
		next_cursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next page; null on the last" }),
	})
	.openapi("ProjectPage");
export type ProjectPageResponse = z.infer<typeof ProjectPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/projects",
	tags: ["projects"],
	summary: "List the projects the caller may see, filtered, in id order",
	description:
		"Only projects within the caller's scopes are listed (a governor sees its nation's, a sector manager its sector's, a regional officer its serving region's). Keyset-paginated: follow `next_cursor` until null to see every matching project exactly once. Soft-deleted projects are never listed.",
	access: { permission: "projects:read" },
	request: { query: ListProjectsQuery },
	parameters: readRequestParameters,
	responses: {
		200: {
			description: "A page of projects",
			headers: cachedReadHeaders,
			content: { "application/json": { schema: ProjectPageSchema } },
		},
		...notModifiedResponse,
		...problemResponses(400, 406, 503),
	},
});

/**
 * The caller's visibility as part of the cache key: principals with the same visibility share pages, and a
 * scoped principal can never be served a page computed for another scope.
 */
export function visibilityKey(visibility: Visibility): string {
	if (visibility.all) return "all";
	const list = (values: string[]) => [...new Set(values)].sort().join(",");
	return `n:${list(visibility.nations)};s:${list(visibility.sectors)};r:${list(visibility.regions)}`;
}

const visibilityKeys = new WeakMap<Principal, { visibility: Visibility; key: string }>();

/** The principal's `projects:read` visibility and its cache-key form, computed once per principal. */
function visibilityOf(principal: Principal): { visibility: Visibility; key: string } {
	let known = visibilityKeys.get(principal);
	if (!known) {
		const visibility = principal.visibility("projects:read");
		known = { visibility, key: visibilityKey(visibility) };
		visibilityKeys.set(principal, known);
	}
	return known;
}

/**
 * What a validated query asks for, and the canonical query its cached page is keyed by. Throws 400 for a
 * cursor issued for other filters.
 */
function pageRequest(valid: z.infer<typeof ListProjectsQuery>, principal: Principal) {
	const { cursor, limit, ...query } = valid;
	const filters = { ...query, nation: query.nation?.toUpperCase() };
	const print = fingerprint(canonicalQuery(filters));
	const after = decodeCursor(cursor, print);
	const { visibility, key } = visibilityOf(principal);
	return {
		filters,
		print,
		after,
		limit,
		visibility,
		query: canonicalQuery({ ...filters, after, limit, visibility: key }),
	};
}

/**
 * The isolate hot path's view of this route (workers/cache/hot-path.ts): the key `readDependent` below reads
 * for the same query, validated by the same schema, under the list version this isolate confirmed recently.
 */
export const hotRead: HotRead = {
	route,
	path: /^\/v1\/projects$/,
	key: (_params, raw, principal, rawQuery) => {
		const version = recentListVersion("projects");
		if (version === undefined) return undefined;
		const memo = `${visibilityOf(principal).key}?${rawQuery}`;
		let query = hotQueries.get(memo);
		if (query === undefined) {
			const parsed = ListProjectsQuery.safeParse(raw);
			if (!parsed.success) return undefined;
			try {
				query = pageRequest(parsed.data, principal).query;
			} catch {
				return undefined; // a cursor issued for other filters: the handler answers 400
			}
			hotQueries.set(memo, query, (memo.length + query.length) * 2 + 64);
		}
		return readableDependentKey("projects", [version], query);
	},
};

/**
 * The hot path's canonical queries by visibility and raw query string: the same string validates to the same
 * result, so it is validated once (bounded: the 1,000 most recent).
 */
const hotQueries = new BoundedLru<string>({ maxEntries: 1_000, maxBytes: 1_000_000 });

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { filters, print, after, limit, visibility, query } = pageRequest(
			c.req.valid("query"),
			c.get("principal"),
		);
		const token = decodeConsistencyToken(c.req.header(CONSISTENCY_HEADER));
		const read = await readDependent(c.env, {
			resource: "projects",
			dependsOn: ["projects"],
			minVersions: minListVersions(token, ["projects"]),
			query,
			waitUntil: waitUntilOf(c),
			load: async () => {
				const rows = await listProjects(
					c.var.db(),
					{
						sector: filters.sector,
						region: filters.region,
						servingRegion: filters.serving_region,
						nation: filters.nation,
						status: filters.status,
						q: filters.q,
					},
					visibility,
					{ after, limit },
				);
				return createEntry(toPage(rows, limit, (row) => row.id, presentProject, print));
			},
		});
		if (!read) throw new Error("a project list page cannot be missing");
		return cachedJson<ProjectPageResponse>(c, read);
	});
