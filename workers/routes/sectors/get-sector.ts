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
import { findSector, sectorTotalsByServingRegion } from "../../db/queries/sectors.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import {
	presentRegionTotals,
	presentSector,
	type SectorDetailResponse,
	SectorDetailSchema,
	SectorSlugParam,
} from "./schema.ts";

export type GetSectorResponse = SectorDetailResponse;

/** A sector's totals change with any project write: keyed by both list versions. */
const DEPENDS_ON = ["sectors", "projects"] as const;

export const route = defineRoute({
	method: "get",
	path: "/v1/sectors/{slug}",
	tags: ["sectors"],
	summary: "One sector with its project count and budget totals per serving region",
	description:
		"Totals cover every live project of the sector (aggregates are reference data, visible to every caller); they reflect project writes as soon as those are committed at this edge.",
	access: { permission: "sectors:read" },
	request: { params: SectorSlugParam },
	parameters: readRequestParameters,
	responses: {
		200: {
			description: "The sector and its totals",
			headers: cachedReadHeaders,
			content: { "application/json": { schema: SectorDetailSchema } },
		},
		...notModifiedResponse,
		...problemResponses(400, 404, 406, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const slug = c.req.valid("param").slug.toLowerCase();
		const token = decodeConsistencyToken(c.req.header(CONSISTENCY_HEADER));
		const read = await readDependent(c.env, {
			resource: "sectors",
			dependsOn: DEPENDS_ON,
			minVersions: minListVersions(token, DEPENDS_ON),
			query: canonicalQuery({ slug }),
			waitUntil: waitUntilOf(c),
			load: async () => {
				const db = c.var.db();
				const sector = await findSector(db, slug);
				if (!sector) return null;
				const byRegion = presentRegionTotals(await sectorTotalsByServingRegion(db, slug));
				const totals = {
					projectCount: byRegion.reduce((sum, r) => sum + r.project_count, 0),
					budgetCents: byRegion.reduce((sum, r) => sum + r.budget_cents, 0),
					fundedCents: byRegion.reduce((sum, r) => sum + r.funded_cents, 0),
				};
				const detail: GetSectorResponse = { ...presentSector(sector, totals), by_serving_region: byRegion };
				return createEntry(detail);
			},
		});
		if (!read) throw new ApiError("not_found", `No sector has the slug '${slug}'`);
		return cachedJson<GetSectorResponse>(c, read);
	});
