import { z } from "@hono/zod-openapi";
import type { App } from "../../app.ts";
import {
	CONSISTENCY_HEADER,
	cachedJson,
	cachedReadHeaders,
	createEntry,
	decodeConsistencyToken,
	minListVersions,
	notModifiedResponse,
	readDependent,
	readRequestParameters,
	waitUntilOf,
} from "../../cache/index.ts";
import { listSectorsWithTotals } from "../../db/queries/sectors.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { presentSector, SectorSchema } from "./schema.ts";

export const SectorListSchema = z.object({ data: z.array(SectorSchema) }).openapi("SectorList");
export type SectorListResponse = z.infer<typeof SectorListSchema>;

/** Sector pages depend on sector rows and on every project (their totals). */
const DEPENDS_ON = ["sectors", "projects"] as const;

export const route = defineRoute({
	method: "get",
	path: "/v1/sectors",
	tags: ["sectors"],
	summary: "The six sectors with their live projects' count and budget totals",
	access: { permission: "sectors:read" },
	request: { query: z.object({}).strict() },
	parameters: readRequestParameters,
	responses: {
		200: {
			description: "Every sector, in slug order (six: no pagination)",
			headers: cachedReadHeaders,
			content: { "application/json": { schema: SectorListSchema } },
		},
		...notModifiedResponse,
		...problemResponses(400, 406, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const token = decodeConsistencyToken(c.req.header(CONSISTENCY_HEADER));
		const read = await readDependent(c.env, {
			resource: "sectors",
			dependsOn: DEPENDS_ON,
			minVersions: minListVersions(token, DEPENDS_ON),
			query: "all",
			waitUntil: waitUntilOf(c),
			load: async () => {
				const rows = await listSectorsWithTotals(c.var.db());
				return createEntry({ data: rows.map((row) => presentSector(row, row)) });
			},
		});
		if (!read) throw new Error("the sector list cannot be missing");
		return cachedJson<SectorListResponse>(c, read);
	});
