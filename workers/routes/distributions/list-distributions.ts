import { z } from "@hono/zod-openapi";
import { and, desc, eq, exists, inArray, lt, or, type SQL } from "drizzle-orm";
import type { App } from "../../app.ts";
import { decodeCursor, fingerprint, splitTimeKey, toPage } from "../../db/queries/pagination.ts";
import { distributionShares, distributions } from "../../db/schema/distributions.ts";
import { nations } from "../../db/schema/nations.ts";
import { projects } from "../../db/schema/projects.ts";
import { DISTRIBUTION_ID_PATTERN, SAGA_STATUSES } from "../../domain/fund/distribution.ts";
import { Period } from "../../domain/fund/period.ts";
import { nationFilterOf } from "../../lib/nation-filter.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { DistributionSchema } from "./schema.ts";

const MAX_PAGE = 200;
const DEFAULT_PAGE = 50;

export const ListDistributionsQuery = z
	.object({
		project_id: z.uuid().optional().openapi({ description: "Only this project's distributions" }),
		period: Period.optional().openapi({ description: "Only distributions weighted by this year, `YYYY`" }),
		status: z.enum(SAGA_STATUSES).optional(),
		nation: z
			.string()
			.regex(/^[A-Za-z]{2,3}$/, { error: "expected an ISO 3166-1 alpha-2 or alpha-3 code" })
			.optional()
			.openapi({ description: "Only distributions that pay this nation (alpha-2 or alpha-3)" }),
		cursor: z
			.string()
			.max(512)
			.optional()
			.openapi({ description: "next_cursor of the previous page (same filters)" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE),
	})
	.strict();

/** A distribution without its shares: the saga's view (DistributionSchema) minus what only the saga knows. */
export const DistributionSummarySchema = DistributionSchema.pick({
	id: true,
	project: true,
	period: true,
	amount_cents: true,
	total_weight_cents: true,
	created_at: true,
	created_by: true,
	completed_at: true,
})
	.extend({
		status: z.enum(SAGA_STATUSES).openapi({
			description:
				"As recorded in Postgres: `running` until the saga records its outcome (`completed` or `stalled`). GET /v1/distributions/{id} reads the saga itself, with live progress per share.",
		}),
		recipients: z.number().int().openapi({ description: "Nations with a share above zero" }),
	})
	.openapi("DistributionSummary");

export const DistributionPageSchema = z
	.object({ data: z.array(DistributionSummarySchema), next_cursor: z.string().nullable() })
	.openapi("DistributionPage");
export type ListDistributionsResponse = z.infer<typeof DistributionPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/distributions",
	tags: ["distributions"],
	summary: "Distributions, newest first",
	description:
		"Every distribution the caller may see (a fund-wide reader: all; otherwise those whose project is in the caller's sectors, nations or serving regions, and those paying one of the caller's nations or regions), newest first, keyset-paginated. Filters: project, period, status, a nation paid.",
	access: { permission: "distributions:read" },
	cost: 2,
	request: { query: ListDistributionsQuery },
	responses: {
		200: {
			description: "A page of distributions",
			content: { "application/json": { schema: DistributionPageSchema } },
		},
		...problemResponses(400, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const query = c.req.valid("query");
		const nationFilter = nationFilterOf(query.nation);
		const filters = `${query.project_id ?? ""}|${query.period ?? ""}|${query.status ?? ""}|${nationFilter ?? ""}`;
		const after = decodeCursor(query.cursor, fingerprint(filters));
		const db = c.var.db();

		const conditions: SQL[] = [];
		if (query.project_id) conditions.push(eq(distributions.projectId, query.project_id));
		if (query.period) conditions.push(eq(distributions.period, query.period));
		if (query.status) conditions.push(eq(distributions.status, query.status));
		const sharesPaying = (condition: SQL) =>
			exists(
				db
					.select({ one: distributionShares.nationIso2 })
					.from(distributionShares)
					.innerJoin(nations, eq(nations.iso2, distributionShares.nationIso2))
					.where(and(eq(distributionShares.distributionId, distributions.id), condition)),
			);
		if (nationFilter) conditions.push(sharesPaying(eq(distributionShares.nationIso2, nationFilter)));

		const visibility = c.var.principal.visibility("distributions:read");
		if (!visibility.all) {
			const visible: SQL[] = [];
			if (visibility.sectors.length > 0) visible.push(inArray(projects.sector, visibility.sectors));
			if (visibility.nations.length > 0) {
				visible.push(inArray(projects.nationIso2, visibility.nations));
				visible.push(sharesPaying(inArray(distributionShares.nationIso2, visibility.nations)));
			}
			if (visibility.regions.length > 0) {
				visible.push(inArray(projects.servingRegion, visibility.regions));
				visible.push(sharesPaying(inArray(nations.servingRegion, visibility.regions)));
			}
			if (visible.length === 0)
				return c.json<ListDistributionsResponse, 200>({ data: [], next_cursor: null }, 200);
			conditions.push(or(...visible) as SQL);
		}
		if (after !== undefined) {
			const [time, id] = splitTimeKey(after, DISTRIBUTION_ID_PATTERN);
			const createdAt = new Date(time);
			conditions.push(
				or(
					lt(distributions.createdAt, createdAt),
					and(eq(distributions.createdAt, createdAt), lt(distributions.id, id)),
				) as SQL,
			);
		}

		const rows = await db
			.select({
				id: distributions.id,
				status: distributions.status,
				period: distributions.period,
				amountCents: distributions.amountCents,
				totalWeightCents: distributions.totalWeightCents,
				recipients: distributions.recipients,
				createdAt: distributions.createdAt,
				createdBy: distributions.createdBy,
				completedAt: distributions.completedAt,
				projectId: projects.id,
				projectName: projects.name,
				sector: projects.sector,
				hostNation: projects.nationIso2,
				servingRegion: projects.servingRegion,
			})
			.from(distributions)
			.innerJoin(projects, eq(projects.id, distributions.projectId))
			.where(and(...conditions))
			.orderBy(desc(distributions.createdAt), desc(distributions.id))
			.limit(query.limit + 1);

		const page = toPage(
			rows,
			query.limit,
			(row) => `${row.createdAt.toISOString()}|${row.id}`,
			(row) => ({
				id: row.id,
				status: row.status as (typeof SAGA_STATUSES)[number],
				project: {
					id: row.projectId,
					name: row.projectName,
					sector: row.sector,
					nation: row.hostNation,
					serving_region: row.servingRegion,
				},
				period: row.period,
				amount_cents: row.amountCents,
				total_weight_cents: row.totalWeightCents,
				recipients: row.recipients,
				created_at: row.createdAt.toISOString(),
				created_by: row.createdBy,
				completed_at: row.completedAt?.toISOString() ?? null,
			}),
			fingerprint(filters),
		);
		c.header("cache-control", "no-store");
		return c.json<ListDistributionsResponse, 200>(page, 200);
	});
