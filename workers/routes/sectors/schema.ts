import { z } from "@hono/zod-openapi";
import { SECTOR_SLUGS } from "../../../queues/envelope.ts";
import type { ProjectTotals, Sector, SectorRegionTotals } from "../../db/queries/sectors.ts";
import { SERVING_REGIONS } from "../../domain/serving-regions.ts";

const totalsFields = {
	project_count: z.number().int().openapi({ description: "Live (not deleted) projects" }),
	budget_cents: z.number().int().openapi({ description: "Sum of their budgets, integer USD cents" }),
	funded_cents: z.number().int().openapi({ description: "Sum of their funded amounts, integer USD cents" }),
};

export const SectorSchema = z
	.object({
		slug: z.enum(SECTOR_SLUGS),
		name: z.string(),
		description: z.string(),
		...totalsFields,
		created_at: z.string().openapi({ format: "date-time" }),
		updated_at: z.string().openapi({ format: "date-time" }),
		version: z.number().int(),
	})
	.openapi("Sector");
export type SectorResponse = z.infer<typeof SectorSchema>;

export const SectorRegionTotalsSchema = z
	.object({ serving_region: z.enum(SERVING_REGIONS), ...totalsFields })
	.openapi("SectorRegionTotals");

export const SectorDetailSchema = SectorSchema.extend({
	by_serving_region: z
		.array(SectorRegionTotalsSchema)
		.openapi({ description: "One entry per serving region (all six, zeros included), in region order" }),
}).openapi("SectorDetail");
export type SectorDetailResponse = z.infer<typeof SectorDetailSchema>;

export const SectorSlugParam = z.object({
	slug: z
		.string()
		.regex(/^[A-Za-z]{1,32}$/, "must be a sector slug such as 'energy'")
		.openapi({
			param: { name: "slug", in: "path" },
			example: "energy",
			description: "Sector slug, any case",
		}),
});

export function presentSector(row: Sector, totals: ProjectTotals): SectorResponse {
	return {
		slug: row.slug as SectorResponse["slug"],
		name: row.name,
		description: row.description,
		project_count: totals.projectCount,
		budget_cents: totals.budgetCents,
		funded_cents: totals.fundedCents,
		created_at: row.createdAt.toISOString(),
		updated_at: row.updatedAt.toISOString(),
		version: row.version,
	};
}

/** Every serving region in the order SERVING_REGIONS lists them, with zeros where the sector has no project. */
export function presentRegionTotals(rows: SectorRegionTotals[]): SectorDetailResponse["by_serving_region"] {
	return SERVING_REGIONS.map((region) => {
		const found = rows.find((row) => row.servingRegion === region);
		return {
			serving_region: region,
			project_count: found?.projectCount ?? 0,
			budget_cents: found?.budgetCents ?? 0,
			funded_cents: found?.fundedCents ?? 0,
		};
	});
}
