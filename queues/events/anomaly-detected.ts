import { z } from "zod";
import { Cents, SectorSlug, ServingRegion } from "./fields.ts";

/** `alerts.anomaly.detected`: emitted by the analytics consumer when a rule fires (see docs/events.md). */
export const AnomalyDetectedData = z.looseObject({
	rule: z.string().min(1),
	day: z.iso.date(),
	serving_region: ServingRegion,
	sector: SectorSlug.nullable(),
	value_cents: Cents,
	mean_cents: z.number(),
	stddev_cents: z.number(),
	threshold_stddevs: z.number(),
	window_days: z.number().int(),
});
export type AnomalyDetectedData = z.infer<typeof AnomalyDetectedData>;
