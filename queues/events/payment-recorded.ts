import { z } from "zod";
import { Cents, Iso2, SectorSlug, ServingRegion } from "./fields.ts";

/**
 * `covenant.payments.recorded`: a transfer was posted to a nation's ledger. `kind` is the transfer kind
 * (contribution, distribution, correction, ...); analytics rolls up counts and amounts by it.
 */
export const PaymentRecordedData = z.looseObject({
	nation: Iso2,
	kind: z.string().min(1).max(64),
	amount_cents: Cents,
	transfer_id: z.string().optional(),
	sector: SectorSlug.optional(),
	project_id: z.string().optional(),
	serving_region: ServingRegion.optional(),
});
export type PaymentRecordedData = z.infer<typeof PaymentRecordedData>;
