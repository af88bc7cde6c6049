import { z } from "zod";
import { Iso2, SectorSlug, ServingRegion, Snapshot } from "./fields.ts";

/**
 * `covenant.projects.created` and `covenant.projects.updated`. Only `project_id` is required; consumers that
 * need the sector, host nation or serving region and do not find them here read them from Postgres.
 */
export const ProjectChangedData = z.looseObject({
	project_id: z.string().min(1),
	name: z.string().optional(),
	sector: SectorSlug.optional(),
	nation: Iso2.optional(),
	serving_region: ServingRegion.optional(),
	status: z.string().optional(),
	before: Snapshot.optional(),
	after: Snapshot.optional(),
});
export type ProjectChangedData = z.infer<typeof ProjectChangedData>;
