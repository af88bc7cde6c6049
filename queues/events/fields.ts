import { z } from "zod";
import { SERVING_REGIONS } from "../../workers/domain/serving-regions.ts";
import { SECTOR_SLUGS } from "./types.ts";

/** Field schemas shared by the event data schemas: the attributes consumers route and roll up by. */
export const Iso2 = z.string().regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code, upper case");
export const SectorSlug = z.enum(SECTOR_SLUGS);
export const ServingRegion = z.enum(SERVING_REGIONS);
/** Money: integer USD cents within JavaScript's exact range (never a float). */
export const Cents = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
/** A snapshot of the changed object, for the audit trail's before/after. */
export const Snapshot = z.record(z.string(), z.unknown());
