import nations from "../../../seeds/data/nations.json" with { type: "json" };
import type { ServingRegion } from "../serving-regions.ts";

/**
 * The nations a ledger can exist for, resolved without a database round trip: ISO codes and home serving regions
 * are static reference data (195 rows, the committed seed), so the worker bundles them and the ledger's hot path
 * never waits on Postgres to find out whose ledger a request is for.
 */
export interface LedgerNation {
	iso2: string;
	iso3: string;
	name: string;
	serving_region: ServingRegion;
}

const BY_CODE = new Map<string, LedgerNation>();
for (const n of nations as { iso2: string; iso3: string; name: string; serving_region: string }[]) {
	const nation: LedgerNation = {
		iso2: n.iso2,
		iso3: n.iso3,
		name: n.name,
		serving_region: n.serving_region as ServingRegion,
	};
	BY_CODE.set(n.iso2, nation);
	BY_CODE.set(n.iso3, nation);
}

/** Every nation, in ISO alpha-2 order. */
export const LEDGER_NATIONS: readonly LedgerNation[] = [...new Set(BY_CODE.values())].sort((a, b) =>
	a.iso2.localeCompare(b.iso2),
);

/** The nation for an ISO 3166-1 alpha-2 or alpha-3 code, in any case; undefined for anything else. */
export function nationByCode(code: string): LedgerNation | undefined {
	if (!/^[A-Za-z]{2,3}$/.test(code)) return undefined;
	return BY_CODE.get(code.toUpperCase());
}

/**
 * Where a nation's ledger object should be created: the Durable Object location hint nearest its serving region
 * (hints name areas, not cities).
 */
export const LOCATION_HINTS = {
	ams: "weur",
	iad: "enam",
	syd: "oc",
	sin: "apac",
	sfo: "wnam",
	jnb: "afr",
} as const satisfies Record<ServingRegion, string>;
