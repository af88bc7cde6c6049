import { z } from "@hono/zod-openapi";
import { SECTOR_SLUGS } from "../../../queues/envelope.ts";
import type { AccessTarget } from "../../auth/permissions.ts";
import { type CacheEntry, createEntry } from "../../cache/index.ts";
import type { Project } from "../../db/queries/projects.ts";
import { M49_REGIONS, SERVING_REGIONS } from "../../domain/serving-regions.ts";

export const PROJECT_STATUSES = ["proposed", "approved", "active", "completed", "suspended"] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

/** Statuses a project may be created in: a project cannot start out completed or suspended. */
export const INITIAL_STATUSES = ["proposed", "approved", "active"] as const;

/**
 * The project lifecycle. Completed is final; a suspended project resumes where it can (approved or active);
 * nothing goes back to proposed. Setting the current status again is not a transition and is always allowed.
 */
export const STATUS_TRANSITIONS: Readonly<Record<ProjectStatus, readonly ProjectStatus[]>> = {
	proposed: ["approved", "suspended"],
	approved: ["active", "suspended"],
	active: ["completed", "suspended"],
	suspended: ["approved", "active"],
	completed: [],
};

/** Fields no body may set: the id, bookkeeping, what is derived from the host nation, the search vector. */
export const PROJECT_READ_ONLY_FIELDS = [
	"id",
	"created_at",
	"updated_at",
	"version",
	"serving_region",
	"region",
	"search",
	"deleted_at",
];

const MAX_CENTS = Number.MAX_SAFE_INTEGER;

/** The writable fields, each with its bounds; create and update share them. */
export const projectFields = {
	name: z.string().trim().min(3).max(200).openapi({ example: "Turkana Wind Corridor" }),
	sector: z.enum(SECTOR_SLUGS),
	nation_iso2: z
		.string()
		.regex(/^[A-Za-z]{2}$/, "must be an ISO 3166-1 alpha-2 code")
		.openapi({ example: "KE", description: "Host nation, ISO alpha-2 (any case)" }),
	budget_cents: z
		.number()
		.int()
		.min(1)
		.max(MAX_CENTS)
		.openapi({ description: "Total budget in integer USD cents", example: 12_500_000_000 }),
	funded_cents: z
		.number()
		.int()
		.min(0)
		.max(MAX_CENTS)
		.openapi({ description: "Amount funded so far in integer USD cents; never above the budget" }),
	expected_yield_bps: z
		.number()
		.int()
		.min(0)
		.max(10_000)
		.openapi({ description: "Expected annual yield in basis points (0 to 100 %)", example: 650 }),
	lat: z.number().min(-90).max(90),
	lng: z.number().min(-180).max(180),
	summary: z.string().trim().min(1).max(2_000),
};

export const ProjectSchema = z
	.object({
		id: z.uuid(),
		name: z.string(),
		sector: z.enum(SECTOR_SLUGS),
		nation_iso2: z.string().length(2),
		serving_region: z.enum(SERVING_REGIONS).openapi({ description: "The host nation's serving region" }),
		region: z.enum(M49_REGIONS).openapi({ description: "The host nation's UN M49 region" }),
		status: z.enum(PROJECT_STATUSES),
		budget_cents: z.number().int(),
		funded_cents: z.number().int(),
		expected_yield_bps: z.number().int(),
		lat: z.number(),
		lng: z.number(),
		summary: z.string(),
		created_at: z.string().openapi({ format: "date-time" }),
		updated_at: z.string().openapi({ format: "date-time" }),
		version: z.number().int().openapi({ description: "Row version, incremented by every write" }),
	})
	.openapi("Project");
export type ProjectResponse = z.infer<typeof ProjectSchema>;

export const ProjectIdParam = z.object({
	id: z
		.uuid()
		.openapi({ param: { name: "id", in: "path" }, example: "827d8f5c-17fe-4c0a-8a53-7954e089113e" }),
});

/** Column order here is the JSON order, part of the ETag. */
export function presentProject(row: Project): ProjectResponse {
	return {
		id: row.id,
		name: row.name,
		sector: row.sector as ProjectResponse["sector"],
		nation_iso2: row.nationIso2,
		serving_region: row.servingRegion as ProjectResponse["serving_region"],
		region: row.region as ProjectResponse["region"],
		status: row.status as ProjectStatus,
		budget_cents: row.budgetCents,
		funded_cents: row.fundedCents,
		expected_yield_bps: row.expectedYieldBps,
		lat: row.lat,
		lng: row.lng,
		summary: row.summary,
		created_at: row.createdAt.toISOString(),
		updated_at: row.updatedAt.toISOString(),
		version: row.version,
	};
}

/** What object-level checks compare against: host nation, sector, serving region. */
export function projectTarget(row: Pick<Project, "nationIso2" | "sector" | "servingRegion">): AccessTarget {
	return { nation: row.nationIso2, sector: row.sector, region: row.servingRegion };
}

/** The cache entry carries the access target, so a cached read is checked without parsing the body. */
export function projectEntry(row: Project): Promise<CacheEntry> {
	return createEntry(presentProject(row), { version: row.version, access: projectTarget(row) });
}
