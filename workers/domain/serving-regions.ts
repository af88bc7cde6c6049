/**
 * Serving regions: where a nation's data lives (residency), where its NationLedger Durable Object is placed
 * (location hint) and which Postgres read replica serves it. The six are the seed's; the codes are the IATA
 * codes of the cities they sit in, as Cloudflare names its locations.
 *
 * Pure module (no Node or Workers APIs): the worker, the seed builder and the seed validator all import it.
 */

export const SERVING_REGIONS = ["ams", "iad", "syd", "sin", "sfo", "jnb"] as const;

export type ServingRegion = (typeof SERVING_REGIONS)[number];

export const SERVING_REGION_INFO: Readonly<Record<ServingRegion, { city: string; description: string }>> = {
	ams: {
		city: "Amsterdam, Netherlands",
		description: "Europe, Western and Central Asia, and North Africa",
	},
	iad: {
		city: "Ashburn, Virginia, United States (Washington Dulles)",
		description: "North America, Central America, the Caribbean and Atlantic South America",
	},
	syd: {
		city: "Sydney, Australia",
		description: "Australia, New Zealand, Melanesia and Polynesia",
	},
	sin: {
		city: "Singapore",
		description: "Eastern, South-eastern and Southern Asia",
	},
	sfo: {
		city: "San Francisco, California, United States",
		description: "Pacific South America (west of 70°W) and Micronesia",
	},
	jnb: {
		city: "Johannesburg, South Africa",
		description: "Sub-Saharan Africa",
	},
};

/** UN M49 regions (the `Region Name` column of the M49 standard). */
export const M49_REGIONS = ["Africa", "Americas", "Asia", "Europe", "Oceania"] as const;

export type M49Region = (typeof M49_REGIONS)[number];

/** UN M49 sub-regions of the 195 nations. */
export const M49_SUBREGIONS = [
	"Northern Africa",
	"Sub-Saharan Africa",
	"Latin America and the Caribbean",
	"Northern America",
	"Central Asia",
	"Eastern Asia",
	"South-eastern Asia",
	"Southern Asia",
	"Western Asia",
	"Eastern Europe",
	"Northern Europe",
	"Southern Europe",
	"Western Europe",
	"Australia and New Zealand",
	"Melanesia",
	"Micronesia",
	"Polynesia",
] as const;

export type M49Subregion = (typeof M49_SUBREGIONS)[number];

/**
 * The region each sub-region belongs to. A sub-region belongs to exactly one region, which lets callers check
 * that a row's region and sub-region agree.
 */
export const M49_SUBREGION_REGION: Readonly<Record<M49Subregion, M49Region>> = {
	"Northern Africa": "Africa",
	"Sub-Saharan Africa": "Africa",
	"Latin America and the Caribbean": "Americas",
	"Northern America": "Americas",
	"Central Asia": "Asia",
	"Eastern Asia": "Asia",
	"South-eastern Asia": "Asia",
	"Southern Asia": "Asia",
	"Western Asia": "Asia",
	"Eastern Europe": "Europe",
	"Northern Europe": "Europe",
	"Southern Europe": "Europe",
	"Western Europe": "Europe",
	"Australia and New Zealand": "Oceania",
	Melanesia: "Oceania",
	Micronesia: "Oceania",
	Polynesia: "Oceania",
};

/** The M49 region of a sub-region name, or undefined for a name M49 does not define (for the 195). */
export function m49RegionOf(subregion: string): M49Region | undefined {
	return (M49_SUBREGIONS as readonly string[]).includes(subregion)
		? M49_SUBREGION_REGION[subregion as M49Subregion]
		: undefined;
}

/**
 * UN M49 intermediate regions, used only inside Sub-Saharan Africa and Latin America and the Caribbean
 * (the 195 nations use these seven; elsewhere the intermediate region is null).
 */
export const M49_INTERMEDIATE_REGIONS = [
	"Eastern Africa",
	"Middle Africa",
	"Southern Africa",
	"Western Africa",
	"Caribbean",
	"Central America",
	"South America",
] as const;

/**
 * South American nations whose capital lies west of this meridian (degrees, negative = west) are served from
 * sfo rather than iad: with the seed's capitals that is exactly the Andean Pacific coast (Colombia -74.07,
 * Ecuador, Peru, Chile -70.67), while Bolivia (Sucre -65.26) and Venezuela (Caracas -66.87) stay with iad.
 */
export const PACIFIC_SOUTH_AMERICA_MAX_LNG = -70;

export interface NationGeography {
	/** UN M49 region name, e.g. "Africa". */
	region: string;
	/** UN M49 sub-region name, e.g. "Sub-Saharan Africa". */
	subregion: string;
	/** UN M49 intermediate region name, e.g. "Eastern Africa"; null where M49 defines none. */
	intermediateRegion: string | null;
	/** Accepted so a whole geography can be passed as is; the current mapping does not need it. */
	capitalLat?: number | null;
	/** Capital longitude in degrees; only consulted for South America. Null means "unknown". */
	capitalLng: number | null;
}

/**
 * A nation's home serving region, from its UN M49 geography. Deterministic and total over M49: every
 * sub-region maps somewhere, and an unknown or inconsistent geography throws rather than guessing, because a
 * nation's home region decides where its money ledger lives.
 *
 * The mapping, and why:
 * - ams: Europe, Western Asia, Central Asia and Northern Africa. Their traffic and submarine cables converge
 *   on the Amsterdam/Frankfurt/Marseille hubs, and EU residency rules make Europe the natural home for the
 *   European nations; the Gulf, the Levant, the Caucasus, Central Asia and the Maghreb are all nearer to it
 *   (by network) than to Singapore or Johannesburg.
 * - jnb: Sub-Saharan Africa, all four intermediate regions. Keeping African nations' data on the continent
 *   is the point of the region, even where West African traffic could reach Europe faster.
 * - sin: Eastern, South-eastern and Southern Asia (Iran and Afghanistan are M49 Southern Asia and go here too),
 *   the hub of the intra-Asian cable systems.
 * - syd: Australia and New Zealand, Melanesia and Polynesia, whose cables (Coral Sea, Tonga, Tui-Samoa,
 *   Southern Cross) land in Sydney or run via Fiji to it.
 * - sfo: Micronesia (Palau, Micronesia, the Marshall Islands, Kiribati, Nauru), reached through Guam and
 *   Hawaii from the US west coast; and the Pacific side of South America (capital west of
 *   PACIFIC_SOUTH_AMERICA_MAX_LNG), whose direct trans-Pacific cables (e.g. Curie, Valparaíso to Los Angeles)
 *   land in California. This split also keeps sfo from being a region of micro-states only.
 * - iad: Northern America, Central America, the Caribbean and the rest of South America, whose cables land in
 *   Florida and on the US east coast. A South American nation with an unknown capital longitude stays here,
 *   the default for the Americas.
 */
export function servingRegionFor(geo: NationGeography): ServingRegion {
	const expectedRegion = m49RegionOf(geo.subregion);
	if (expectedRegion === undefined) {
		throw new Error(`unknown UN M49 sub-region "${geo.subregion}"`);
	}
	if (expectedRegion !== geo.region) {
		throw new Error(
			`UN M49 sub-region "${geo.subregion}" belongs to "${expectedRegion}", not "${geo.region}"`,
		);
	}
	switch (geo.subregion) {
		case "Northern Europe":
		case "Western Europe":
		case "Southern Europe":
		case "Eastern Europe":
		case "Western Asia":
		case "Central Asia":
		case "Northern Africa":
			return "ams";
		case "Sub-Saharan Africa":
			return "jnb";
		case "Eastern Asia":
		case "South-eastern Asia":
		case "Southern Asia":
			return "sin";
		case "Australia and New Zealand":
		case "Melanesia":
		case "Polynesia":
			return "syd";
		case "Micronesia":
			return "sfo";
		case "Northern America":
			return "iad";
		case "Latin America and the Caribbean":
			return latinAmericaServingRegion(geo);
		default:
			// Unreachable while M49_SUBREGION_REGION and this switch list the same sub-regions.
			throw new Error(`no serving region for UN M49 sub-region "${geo.subregion}"`);
	}
}

function latinAmericaServingRegion(geo: NationGeography): ServingRegion {
	switch (geo.intermediateRegion) {
		case "Caribbean":
		case "Central America":
			return "iad";
		case "South America":
			return geo.capitalLng !== null && geo.capitalLng < PACIFIC_SOUTH_AMERICA_MAX_LNG ? "sfo" : "iad";
		default:
			throw new Error(
				`unknown UN M49 intermediate region ${JSON.stringify(geo.intermediateRegion)} in Latin America and the Caribbean`,
			);
	}
}
