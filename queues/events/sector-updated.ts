import { z } from "zod";
import { SectorSlug, Snapshot } from "./fields.ts";

/** `covenant.sectors.<slug>.updated`: a sector's reference data changed. The slug is in the type itself. */
export const SectorUpdatedData = z.looseObject({
	sector: SectorSlug.optional(),
	before: Snapshot.optional(),
	after: Snapshot.optional(),
});
export type SectorUpdatedData = z.infer<typeof SectorUpdatedData>;
