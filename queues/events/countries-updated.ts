import { z } from "zod";
import { Iso2, Snapshot } from "./fields.ts";

/** `covenant.countries.updated`: a nation's reference data changed (status, contribution, GDP...). */
export const CountriesUpdatedData = z.looseObject({
	nation: Iso2,
	before: Snapshot.optional(),
	after: Snapshot.optional(),
});
export type CountriesUpdatedData = z.infer<typeof CountriesUpdatedData>;
