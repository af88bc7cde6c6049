import { z } from "zod";
import { Cents, Iso2, SectorSlug, ServingRegion } from "./fields.ts";

/**
 * `covenant.payments.distributed`: a project's profit was distributed to the nations. Analytics attributes the
 * volume to the project's sector and serving region (where the profit was made); `project_id` lets a consumer
 * look those up when they are not given.
 */
export const PaymentsDistributedData = z.looseObject({
	distribution_id: z.string().min(1),
	amount_cents: Cents.refine((n) => n >= 0, "a distribution amount is never negative"),
	project_id: z.string().optional(),
	sector: SectorSlug.optional(),
	nation: Iso2.optional(),
	serving_region: ServingRegion.optional(),
	recipients: z.number().int().nonnegative().optional(),
});
export type PaymentsDistributedData = z.infer<typeof PaymentsDistributedData>;
