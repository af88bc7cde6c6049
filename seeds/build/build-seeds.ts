/**
 * Derives the committed seed files (seeds/data/*.json) from the raw public data in the shared data folder
 * (see its SOURCES.md). Run: `node seeds/build/build-seeds.ts` (or `npm run seeds:build`); set
 * COVENANT_SHARED_DATA to read the raw data from elsewhere. The output is deterministic: the same input gives
 * byte-identical files, so a rebuild shows up in a diff only when the data or this script changed.
 *
 * Rules it follows:
 * - Everything is joined on ISO 3166-1 alpha-3, never on names. Alpha-2 codes are kept as strings, so
 *   Namibia stays "NA" (this script's CSV parser has no notion of "missing").
 * - Each nation takes its latest available World Bank GDP year and population year; where there is none,
 *   the value and its year are null. Nothing is invented; the one documented exception is the Holy See's
 *   population, below.
 * - Covenant status: the 56 largest economies by that GDP are `active` (the seed's Phase 1 had 56 nations),
 *   the other 139 are `candidate`. Contributions follow workers/domain/contribution.ts.
 * - Projects are synthetic but deterministic: a fixed-seed PRNG (mulberry32) drives every choice.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CovenantStatus } from "../../workers/domain/contribution.ts";
import { contributionFor, PHASE_1_NATIONS } from "../../workers/domain/contribution.ts";
import type { ServingRegion } from "../../workers/domain/serving-regions.ts";
import { SERVING_REGIONS, servingRegionFor } from "../../workers/domain/serving-regions.ts";
import type {
	CapitalSeed,
	CapitalsFile,
	NationSeed,
	ProjectSeed,
	ProjectStatus,
	SectorSeed,
	SectorSlug,
} from "../schema.ts";
import { NATION_COUNT, PROJECT_STATUSES, SECTOR_SLUGS, validateSeeds } from "../schema.ts";

const scriptDir = dirname(fileURLToPath(import.meta.url));
const sharedDataDir = process.env.COVENANT_SHARED_DATA ?? resolve(scriptDir, "../../../shared/data");
const outputDir = resolve(scriptDir, "../data");

/**
 * The World Bank publishes no population for the Holy See. restcountries (countriesV4.json @ bfadee4, the
 * source of restcountries-capitals.json, whose subset omits the field) gives 882, with no stated year, so the
 * year is stored as null rather than guessed.
 */
const POPULATION_WITHOUT_WORLD_BANK: Readonly<Record<string, number>> = { VAT: 882 };

const CAPITALS_SOURCE =
	"Derived from restcountries (github.com/restcountries/restcountries, countriesV4.json @ bfadee4), licensed " +
	"MPL-2.0. capital is the first listed capital; capital_lat/capital_lng are restcountries' capitalLatLng; " +
	"lat/lng (country centre) are null where the source subset has none.";

// ---------------------------------------------------------------------------------------------------------
// Raw data
// ---------------------------------------------------------------------------------------------------------

/**
 * RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks; CRLF or LF line ends. Every field
 * is returned as the exact string in the file: nothing is coerced, so "NA" stays "NA".
 */
function parseCsv(text: string): Record<string, string>[] {
	const records: string[][] = [];
	let record: string[] = [];
	let field = "";
	let quoted = false;
	for (let i = 0; i < text.length; i++) {
		const char = text[i];
		if (quoted) {
			if (char !== '"') field += char;
			else if (text[i + 1] === '"') {
				field += '"';
				i++;
			} else quoted = false;
		} else if (char === '"') quoted = true;
		else if (char === ",") {
			record.push(field);
			field = "";
		} else if (char === "\n" || char === "\r") {
			if (char === "\r" && text[i + 1] === "\n") i++;
			record.push(field);
			records.push(record);
			record = [];
			field = "";
		} else field += char;
	}
	if (quoted) throw new Error("CSV ends inside a quoted field");
	if (field !== "" || record.length > 0) {
		record.push(field);
		records.push(record);
	}
	const [header, ...rows] = records;
	if (header === undefined) throw new Error("CSV has no header");
	return rows.map((row, index) => {
		if (row.length !== header.length) {
			throw new Error(`CSV row ${index + 2} has ${row.length} fields, the header ${header.length}`);
		}
		return Object.fromEntries(header.map((name, column) => [name, row[column] ?? ""]));
	});
}

function readShared(file: string): string {
	return readFileSync(join(sharedDataDir, file), "utf8");
}

function field(row: Record<string, string>, name: string): string {
	const value = row[name];
	if (value === undefined) throw new Error(`column "${name}" is missing`);
	return value;
}

/**
 * A World Bank USD figure ("3521418059.923445") as integer cents. It is rounded exactly once, half to even,
 * on the decimal text itself, so no binary floating point ever touches the amount.
 */
function usdTextToCents(text: string): number {
	const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
	if (match === null) throw new Error(`not a non-negative decimal USD amount: "${text}"`);
	const whole = match[1] ?? "0";
	const fraction = match[2] ?? "";
	let cents = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, "0").slice(0, 2));
	const dropped = fraction.slice(2);
	const firstDropped = dropped[0] ?? "0";
	const restNonZero = /[1-9]/.test(dropped.slice(1));
	if (firstDropped > "5" || (firstDropped === "5" && (restNonZero || cents % 2n === 1n))) cents += 1n;
	if (cents > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`USD amount ${text} exceeds 2^53 - 1 cents`);
	return Number(cents);
}

interface YearValue {
	year: number;
	value: string;
}

/** The latest year with a non-empty value, per alpha-3, from a World Bank indicator CSV. */
function latestByIso3(rows: Record<string, string>[]): Map<string, YearValue> {
	const latest = new Map<string, YearValue>();
	for (const row of rows) {
		const value = field(row, "Value").trim();
		if (value === "") continue;
		const iso3 = field(row, "Country Code");
		const year = Number(field(row, "Year"));
		if (!Number.isInteger(year)) throw new Error(`bad year for ${iso3}: ${field(row, "Year")}`);
		const previous = latest.get(iso3);
		if (previous === undefined || year > previous.year) latest.set(iso3, { year, value });
	}
	return latest;
}

interface RestCountry {
	cca2: string;
	cca3: string;
	name: string;
	official: string;
	capital: string[] | null;
	capitalLatLng: [number, number] | null;
	latlng: [number, number] | null;
	area: number | null;
}

// ---------------------------------------------------------------------------------------------------------
// Nations and capitals
// ---------------------------------------------------------------------------------------------------------

interface NationBuild {
	nations: NationSeed[];
	capitals: CapitalSeed[];
	/** Country area in km² by iso2, from restcountries; only used to size project jitter, not written out. */
	areaByIso2: Map<string, number | null>;
}

function buildNations(): NationBuild {
	const nationIso3s = readShared("nations195.txt").split(/\s+/).filter(Boolean);
	if (nationIso3s.length !== NATION_COUNT) {
		throw new Error(`nations195.txt lists ${nationIso3s.length} nations, expected ${NATION_COUNT}`);
	}
	const codesByIso3 = indexUnique(parseCsv(readShared("country-codes.csv")), (row) =>
		field(row, "ISO3166-1-Alpha-3"),
	);
	const gdpByIso3 = latestByIso3(parseCsv(readShared("gdp.csv")));
	const populationByIso3 = latestByIso3(parseCsv(readShared("population.csv")));
	const restByIso3 = indexUnique(
		JSON.parse(readShared("restcountries-capitals.json")) as RestCountry[],
		(country) => country.cca3,
	);

	// Phase 1: the 56 largest economies by their latest GDP (ties, should any occur, by alpha-3).
	const byGdp = nationIso3s
		.map((iso3) => ({ iso3, gdp: gdpByIso3.get(iso3) }))
		.filter((entry): entry is { iso3: string; gdp: YearValue } => entry.gdp !== undefined)
		.map(({ iso3, gdp }) => ({ iso3, cents: usdTextToCents(gdp.value) }))
		.sort((a, b) => b.cents - a.cents || compareText(a.iso3, b.iso3));
	const active = new Set(byGdp.slice(0, PHASE_1_NATIONS).map((entry) => entry.iso3));

	const nations: NationSeed[] = [];
	const capitals: CapitalSeed[] = [];
	const areaByIso2 = new Map<string, number | null>();
	for (const iso3 of nationIso3s) {
		const codes = codesByIso3.get(iso3);
		const rest = restByIso3.get(iso3);
		if (codes === undefined) throw new Error(`${iso3}: not in country-codes.csv`);
		const iso2 = field(codes, "ISO3166-1-Alpha-2");
		if (rest !== undefined && rest.cca2 !== iso2) {
			throw new Error(`${iso3}: alpha-2 "${iso2}" in country-codes.csv but "${rest.cca2}" in restcountries`);
		}
		const intermediateRegion = field(codes, "Intermediate Region Name") || null;
		const capital = rest?.capital?.[0] ?? null;
		const [capitalLat, capitalLng] = rest?.capitalLatLng ?? [null, null];
		const [lat, lng] = rest?.latlng ?? [null, null];

		const gdp = gdpByIso3.get(iso3);
		const gdpCents = gdp === undefined ? null : usdTextToCents(gdp.value);
		const worldBankPopulation = populationByIso3.get(iso3);
		const population =
			worldBankPopulation === undefined
				? (POPULATION_WITHOUT_WORLD_BANK[iso3] ?? null)
				: integerText(worldBankPopulation.value, `${iso3} population`);
		const covenantStatus: CovenantStatus = active.has(iso3) ? "active" : "candidate";
		const contribution = contributionFor({
			gdp_cents: gdpCents,
			gdp_year: gdp?.year ?? null,
			covenant_status: covenantStatus,
		});
		const region = field(codes, "Region Name");
		const subregion = field(codes, "Sub-region Name");

		nations.push({
			iso2,
			iso3,
			m49: field(codes, "M49").padStart(3, "0"),
			// Names come from country-codes (PDDL-1.0: CLDR display name, UN official English name), so
			// nations.json carries no MPL-2.0 material; restcountries data stays in capitals.json.
			// CLDR abbreviates two ("US", "UK"): a short name should still read as a name.
			name: /^[A-Z]{2,3}$/.test(field(codes, "CLDR display name"))
				? field(codes, "official_name_en")
				: field(codes, "CLDR display name"),
			official_name: field(codes, "official_name_en"),
			// The M49 names are checked against their enums by validateSeeds before anything is written.
			region: region as NationSeed["region"],
			subregion: subregion as NationSeed["subregion"],
			intermediate_region: intermediateRegion as NationSeed["intermediate_region"],
			serving_region: servingRegionFor({ region, subregion, intermediateRegion, capitalLat, capitalLng }),
			population,
			population_year: worldBankPopulation?.year ?? null,
			gdp_cents: gdpCents,
			gdp_year: gdp?.year ?? null,
			covenant_status: covenantStatus,
			contribution_rate_ppm: contribution.rate_ppm,
			annual_contribution_cents: contribution.annual_contribution_cents,
		});
		capitals.push({
			iso2,
			capital,
			capital_lat: capitalLat,
			capital_lng: capitalLng,
			lat,
			lng,
		});
		areaByIso2.set(iso2, rest?.area ?? null);
	}
	const byIso2 = (a: { iso2: string }, b: { iso2: string }) => compareText(a.iso2, b.iso2);
	return { nations: nations.sort(byIso2), capitals: capitals.sort(byIso2), areaByIso2 };
}

function indexUnique<T>(rows: T[], key: (row: T) => string): Map<string, T> {
	const index = new Map<string, T>();
	for (const row of rows) {
		const value = key(row);
		if (index.has(value)) throw new Error(`duplicate key "${value}"`);
		index.set(value, row);
	}
	return index;
}

function integerText(text: string, what: string): number {
	if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
		throw new Error(`${what}: bad integer "${text}"`);
	return Number(text);
}

/** Code-point order, independent of the machine's locale. */
function compareText(a: string, b: string): number {
	return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------
// Sectors
// ---------------------------------------------------------------------------------------------------------

const SECTORS: readonly SectorSeed[] = [
	{
		slug: "agriculture",
		name: "Agriculture",
		description:
			"Food security and rural livelihoods: irrigation, seed systems, storage and cold chains, soil health, fisheries and market access for smallholder farmers.",
	},
	{
		slug: "minerals",
		name: "Minerals",
		description:
			"Responsible extraction and processing: geological surveys, mine remediation, artisanal mining formalisation, traceability and domestic value addition.",
	},
	{
		slug: "energy",
		name: "Energy",
		description:
			"Clean, reliable power: utility-scale renewables, storage, transmission and interconnectors, mini-grids and clean cooking.",
	},
	{
		slug: "tech",
		name: "Technology",
		description:
			"Digital infrastructure and skills: broadband backbones, digital public infrastructure, data centres, payments, cybersecurity and innovation hubs.",
	},
	{
		slug: "health",
		name: "Health",
		description:
			"Universal health coverage: primary care, maternal and child health, vaccines, diagnostics, medical oxygen, water and sanitation, disease surveillance.",
	},
	{
		slug: "education",
		name: "Education",
		description:
			"Learning for all ages: teacher training, classrooms, school connectivity and meals, technical and vocational colleges, scholarships and research.",
	},
];

// ---------------------------------------------------------------------------------------------------------
// Projects
// ---------------------------------------------------------------------------------------------------------

/** Fixed seed for the project generator: change it and every project changes. */
const PROJECT_SEED = 0x5eed_c0de;
/** A separate stream for project ids, so ids do not depend on how many draws each project takes. */
const PROJECT_ID_SEED = 0x1d5_c0de;

/**
 * Projects per serving region. Regions with more nations and larger economies get more, but every region
 * gets many, so that region-scoped queries, caches and partners all have real data to work on.
 */
const PROJECTS_PER_REGION: Readonly<Record<ServingRegion, number>> = {
	ams: 140,
	iad: 100,
	syd: 70,
	sin: 110,
	sfo: 70,
	jnb: 110,
};

/** The first projects of every region cycle through the sectors, so each sector × region cell has this many. */
const MIN_PROJECTS_PER_SECTOR_AND_REGION = 8;

/** After the guaranteed minimum, sectors are drawn with these regional leanings (relative weights). */
const SECTOR_WEIGHTS: Readonly<Record<ServingRegion, Readonly<Record<SectorSlug, number>>>> = {
	ams: { agriculture: 1, minerals: 0.8, energy: 1.4, tech: 1.4, health: 1, education: 1 },
	iad: { agriculture: 1, minerals: 0.8, energy: 1.2, tech: 1.4, health: 1.2, education: 1 },
	syd: { agriculture: 1, minerals: 1.4, energy: 1.3, tech: 0.8, health: 1, education: 0.9 },
	sin: { agriculture: 1.3, minerals: 0.8, energy: 1.2, tech: 1.3, health: 1, education: 1 },
	sfo: { agriculture: 1.1, minerals: 1.5, energy: 1.2, tech: 1, health: 0.9, education: 0.8 },
	jnb: { agriculture: 1.4, minerals: 1.2, energy: 1.2, tech: 0.9, health: 1.3, education: 1.1 },
};

const PROJECT_STATUS_WEIGHTS: Readonly<Record<ProjectStatus, number>> = {
	proposed: 18,
	approved: 17,
	active: 40,
	completed: 17,
	suspended: 8,
};

/** Funded share of the budget by status: [min, max]. Proposed projects have raised nothing yet. */
const FUNDED_SHARE: Readonly<Record<ProjectStatus, readonly [number, number]>> = {
	proposed: [0, 0],
	approved: [0, 0.25],
	active: [0.25, 0.95],
	completed: [1, 1],
	suspended: [0.1, 0.7],
};

interface SectorProfile {
	/** Budget range in USD; small economies draw from the lower part of it (see budgetUsd). */
	budgetUsd: readonly [number, number];
	/** Expected annual yield range in basis points. */
	yieldBps: readonly [number, number];
	templates: readonly ProjectTemplate[];
}

interface TemplateContext {
	/** The nation's name as it reads inside a sentence ("the Philippines"). */
	nation: string;
	capital: string;
	/** How many units the budget buys at `usdPerUnit` each: at least 1, two significant digits from 1,000. */
	units: (usdPerUnit: number) => string;
}

interface ProjectTemplate {
	suffix: string;
	summary: (context: TemplateContext) => string;
	/** Only offered in these serving regions (for crops or resources that are regional). */
	regions?: readonly ServingRegion[];
	/** Only offered to developing economies (see DEVELOPING_GDP_PER_CAPITA_USD): no mini-grids for Norway. */
	developing?: true;
}

/** GDP per head below which a nation is offered the `developing` templates; a nation without GDP data is too. */
const DEVELOPING_GDP_PER_CAPITA_USD = 15_000;

/** Nations whose common name takes "the" inside a sentence, by alpha-3. */
const NAMES_WITH_ARTICLE = new Set([
	"ARE",
	"BHS",
	"CAF",
	"COD",
	"COG",
	"COM",
	"DOM",
	"GBR",
	"GMB",
	"MDV",
	"MHL",
	"NLD",
	"PHL",
	"SLB",
	"SYC",
	"USA",
]);

const SECTOR_PROFILES: Readonly<Record<SectorSlug, SectorProfile>> = {
	agriculture: {
		budgetUsd: [2_000_000, 250_000_000],
		yieldBps: [400, 1100],
		templates: [
			{
				suffix: "Smallholder Irrigation Scheme",
				developing: true,
				summary: (c) =>
					`Brings drip and solar-pumped irrigation to about ${c.units(2_500)} hectares of smallholder farmland in ${c.nation}, run by local water-user associations.`,
			},
			{
				suffix: "Rice Resilience Program",
				regions: ["sin", "jnb"],
				summary: (c) =>
					`Introduces flood- and salt-tolerant rice varieties and alternate wetting and drying on ${c.units(1_500)} hectares in ${c.nation}, cutting water use and methane.`,
			},
			{
				suffix: "Cold Chain Network",
				summary: (c) =>
					`Builds ${c.units(400_000)} solar-powered cold stores linking farms around ${c.capital} to markets, so less of the harvest is lost before it is sold.`,
			},
			{
				suffix: "Agroforestry Belt",
				summary: (c) =>
					`Plants ${c.units(8)} shade and fruit trees on degraded farmland across ${c.nation}, raising yields and soil carbon.`,
			},
			{
				suffix: "Seed Bank and Breeding Centre",
				summary: (c) =>
					`Conserves local crop varieties and breeds drought-tolerant seed for farmers in ${c.nation}, from a national seed bank near ${c.capital}.`,
			},
			{
				suffix: "Grain Storage Program",
				developing: true,
				summary: (c) =>
					`Adds ${c.units(250)} tonnes of hermetic grain storage in the farming districts of ${c.nation}, cutting post-harvest losses and smoothing prices between harvests.`,
			},
			{
				suffix: "Aquaculture Development Project",
				summary: (c) =>
					`Develops sustainable fish and seaweed farming in ${c.nation} with hatcheries, feed mills and training for ${c.units(20_000)} producer groups.`,
			},
			{
				suffix: "Soil Health Initiative",
				developing: true,
				summary: (c) =>
					`Maps the soils of the farming regions of ${c.nation} and finances compost, lime and cover crops for ${c.units(600)} smallholders.`,
			},
			{
				suffix: "Farm-to-Market Roads",
				developing: true,
				summary: (c) =>
					`Paves ${c.units(400_000)} km of all-weather feeder roads in ${c.nation}, so farmers reach markets and buyers reach farms in every season.`,
			},
			{
				suffix: "Climate-Smart Livestock Program",
				summary: (c) =>
					`Improves animal health, feed and water points for herders in ${c.nation}, raising milk and meat output while cutting emissions per animal.`,
			},
		],
	},
	minerals: {
		budgetUsd: [10_000_000, 900_000_000],
		yieldBps: [800, 1800],
		templates: [
			{
				suffix: "Critical Minerals Survey",
				summary: (c) =>
					`Funds airborne geophysics and geological mapping of the critical-mineral potential of ${c.nation}, published as open data.`,
			},
			{
				suffix: "Tailings Remediation Project",
				summary: (c) =>
					`Stabilises legacy tailings dams and treats mine drainage in ${c.nation}, returning land around old workings to productive use.`,
			},
			{
				suffix: "Battery Metals Refinery",
				summary: (c) =>
					`Builds a refinery to turn battery-metal concentrates into cathode-grade chemicals in ${c.nation}, so more of the value stays at home.`,
			},
			{
				suffix: "Artisanal Mining Formalisation Program",
				developing: true,
				summary: (c) =>
					`Licenses and equips ${c.units(5_000)} artisanal miners in ${c.nation}, replacing mercury with safer gold processing and buying their output at fair prices.`,
			},
			{
				suffix: "Mineral Traceability Registry",
				summary: (c) =>
					`Tracks minerals from mine to export with a shared registry in ${c.nation}, meeting buyers' responsible-sourcing rules.`,
			},
			{
				suffix: "Mine Water Treatment Plant",
				summary: (c) =>
					`Treats ${c.units(2_500)} cubic metres a day of mine water in ${c.nation} for reuse by farms and towns.`,
			},
			{
				suffix: "Geoscience Data Centre",
				summary: (c) =>
					`Digitises decades of drilling and survey records from ${c.nation} into an open geoscience archive run from ${c.capital}.`,
			},
			{
				suffix: "Rare Earth Processing Pilot",
				summary: (c) =>
					`Pilots separating rare earth elements from ore and mine waste in ${c.nation}, training a local workforce in the process.`,
			},
			{
				suffix: "Quarry Modernisation Program",
				summary: (c) =>
					`Modernises the quarries supplying construction in ${c.nation} with dust control, safer blasting and rehabilitation bonds.`,
			},
		],
	},
	energy: {
		budgetUsd: [5_000_000, 900_000_000],
		yieldBps: [500, 1400],
		templates: [
			{
				suffix: "Solar Corridor",
				summary: (c) =>
					`Builds about ${c.units(900_000)} MW of utility-scale solar in ${c.nation}, with battery storage to carry the evening peak.`,
			},
			{
				suffix: "Wind Farm",
				summary: (c) =>
					`Adds ${c.units(1_400_000)} MW of onshore wind to the grid in ${c.nation}, with a community benefit fund for the host districts.`,
			},
			{
				suffix: "Mini-Grid Program",
				developing: true,
				summary: (c) =>
					`Connects ${c.units(400)} households in villages of ${c.nation} beyond the national grid to solar mini-grids.`,
			},
			{
				suffix: "Grid Interconnector",
				summary: (c) =>
					`Builds ${c.units(1_500_000)} km of high-voltage line linking ${c.nation} with its neighbours' grids, so surplus renewable power can be traded.`,
			},
			{
				suffix: "Battery Storage Facility",
				summary: (c) =>
					`Installs ${c.units(350_000)} MWh of grid-scale batteries near ${c.capital} to firm solar and wind and steady the grid frequency.`,
			},
			{
				suffix: "Hydropower Rehabilitation",
				summary: (c) =>
					`Rehabilitates turbines and dam safety systems at ageing hydropower stations in ${c.nation}, restoring ${c.units(1_200_000)} MW of lost capacity.`,
			},
			{
				suffix: "Clean Cooking Initiative",
				developing: true,
				summary: (c) =>
					`Replaces charcoal and kerosene with LPG and electric cooking in ${c.units(60)} households in ${c.nation}, cutting indoor air pollution.`,
			},
			{
				suffix: "Rooftop Solar Program",
				summary: (c) =>
					`Finances rooftop solar for ${c.units(6_000)} homes, schools and clinics in and around ${c.capital}, repaid from energy savings.`,
			},
			{
				suffix: "Green Hydrogen Pilot",
				summary: (c) =>
					`Pilots electrolytic hydrogen from renewable power in ${c.nation} for fertiliser production and heavy transport.`,
			},
			{
				suffix: "Grid Modernisation Project",
				summary: (c) =>
					`Upgrades substations and installs smart meters across the distribution network of ${c.nation}, cutting losses and outages.`,
			},
		],
	},
	tech: {
		budgetUsd: [2_000_000, 400_000_000],
		yieldBps: [600, 1800],
		templates: [
			{
				suffix: "Fibre Backbone",
				summary: (c) =>
					`Lays ${c.units(25_000)} km of open-access fibre across ${c.nation}, bringing affordable broadband to towns beyond ${c.capital}.`,
			},
			{
				suffix: "Digital Public Infrastructure Program",
				summary: (c) =>
					`Builds interoperable digital identity, payments and data-exchange rails for the public services of ${c.nation}, open to private providers.`,
			},
			{
				suffix: "Data Centre",
				summary: (c) =>
					`Builds a ${c.units(10_000_000)} MW renewable-powered data centre near ${c.capital}, keeping the public data of ${c.nation} in the country.`,
			},
			{
				suffix: "Rural Connectivity Initiative",
				summary: (c) =>
					`Erects ${c.units(150_000)} solar-powered mobile towers in the unconnected rural districts of ${c.nation}, shared by all operators.`,
			},
			{
				suffix: "Coding Academies",
				summary: (c) =>
					`Trains ${c.units(3_000)} young people in software development across ${c.nation}, with placements at local employers.`,
			},
			{
				suffix: "Cybersecurity Centre",
				summary: (c) =>
					`Sets up a national incident-response centre in ${c.capital} and trains the public agencies of ${c.nation} to defend their systems.`,
			},
			{
				suffix: "Open Data Platform",
				summary: (c) =>
					`Publishes the statistics, budgets and public contracts of ${c.nation} as open data with APIs, and funds civic-tech grants that build on them.`,
			},
			{
				suffix: "Instant Payments Network",
				summary: (c) =>
					`Builds a real-time, low-cost payments system for ${c.nation} that links banks and mobile-money providers.`,
			},
			{
				suffix: "Innovation Hub",
				summary: (c) =>
					`Opens a technology incubator in ${c.capital} with seed funding for ${c.units(250_000)} start-ups.`,
			},
			{
				suffix: "Earth Observation Ground Station",
				summary: (c) =>
					`Builds a satellite ground station in ${c.nation} that turns Earth-observation data into crop, flood and forest maps.`,
			},
		],
	},
	health: {
		budgetUsd: [2_000_000, 300_000_000],
		yieldBps: [300, 900],
		templates: [
			{
				suffix: "Primary Care Clinics",
				summary: (c) =>
					`Builds or refurbishes ${c.units(900_000)} primary care clinics in ${c.nation}, staffed and equipped for maternal, child and chronic care.`,
			},
			{
				suffix: "Maternal Health Network",
				developing: true,
				summary: (c) =>
					`Links ${c.units(300_000)} rural health posts in ${c.nation} to referral hospitals with ambulances and emergency obstetric care.`,
			},
			{
				suffix: "Vaccine Cold Chain",
				developing: true,
				summary: (c) =>
					`Equips ${c.units(15_000)} health facilities in ${c.nation} with solar fridges and temperature monitoring for routine vaccines.`,
			},
			{
				suffix: "District Hospital Upgrade",
				summary: (c) =>
					`Upgrades the busiest district hospitals in ${c.nation} with operating theatres, diagnostics and reliable power.`,
			},
			{
				suffix: "Telemedicine Program",
				summary: (c) =>
					`Connects clinics across ${c.nation} to specialists in ${c.capital} by video, with shared electronic health records.`,
			},
			{
				suffix: "Medical Oxygen Program",
				developing: true,
				summary: (c) =>
					`Installs ${c.units(750_000)} oxygen plants at hospitals in ${c.nation} and trains biomedical technicians to keep them running.`,
			},
			{
				suffix: "Community Health Workers Initiative",
				developing: true,
				summary: (c) =>
					`Trains, equips and pays ${c.units(5_000)} community health workers who bring basic care to households across ${c.nation}.`,
			},
			{
				suffix: "Diagnostic Laboratories Network",
				summary: (c) =>
					`Builds a national network of diagnostic laboratories in ${c.nation}, with a reference laboratory in ${c.capital}.`,
			},
			{
				suffix: "Clean Water and Sanitation Project",
				developing: true,
				summary: (c) =>
					`Brings safe water and sanitation to ${c.units(250)} people in underserved towns and villages of ${c.nation}.`,
			},
			{
				suffix: "Disease Surveillance System",
				summary: (c) =>
					`Builds genomic and syndromic surveillance in ${c.nation} to detect outbreaks early and share data with neighbouring countries.`,
			},
		],
	},
	education: {
		budgetUsd: [2_000_000, 200_000_000],
		yieldBps: [300, 800],
		templates: [
			{
				suffix: "Teacher Training Institute",
				summary: (c) =>
					`Trains and certifies ${c.units(4_000)} teachers in ${c.nation}, with coaching in the classroom after the course.`,
			},
			{
				suffix: "School Connectivity Program",
				summary: (c) =>
					`Connects ${c.units(20_000)} schools in ${c.nation} to the internet, with devices and digital learning content.`,
			},
			{
				suffix: "Technical and Vocational College",
				summary: (c) =>
					`Builds a technical college near ${c.capital} teaching construction, energy and agriculture trades to school leavers from ${c.nation}.`,
			},
			{
				suffix: "Girls' Secondary Education Initiative",
				developing: true,
				summary: (c) =>
					`Funds scholarships, safe transport and boarding so ${c.units(1_200)} girls in ${c.nation} can finish secondary school.`,
			},
			{
				suffix: "Early Literacy Program",
				developing: true,
				summary: (c) =>
					`Provides mother-tongue reading materials and coaching for early-grade teachers, reaching ${c.units(40)} children in ${c.nation}.`,
			},
			{
				suffix: "University Research Fund",
				summary: (c) =>
					`Funds research grants and laboratories at the universities of ${c.nation}, with fellowships that keep graduates in the country.`,
			},
			{
				suffix: "STEM Scholarships",
				summary: (c) =>
					`Awards ${c.units(20_000)} science and engineering scholarships to students from ${c.nation}, tied to local internships.`,
			},
			{
				suffix: "School Meals Program",
				developing: true,
				summary: (c) =>
					`Serves a daily school meal to ${c.units(60)} children in ${c.nation}, bought from local farmers.`,
			},
			{
				suffix: "Classroom Construction Project",
				developing: true,
				summary: (c) =>
					`Builds ${c.units(40_000)} climate-resilient classrooms in the fastest-growing districts of ${c.nation}.`,
			},
			{
				suffix: "Adult Learning Centres",
				summary: (c) =>
					`Opens adult learning centres across ${c.nation} offering literacy, numeracy and digital skills.`,
			},
		],
	},
};

/**
 * Real regions, rivers, valleys and other features by alpha-3, for project names such as "Rift Valley Solar
 * Corridor". Nations not listed are named after their capital or themselves.
 */
const PLACE_NAMES: Readonly<Record<string, readonly string[]>> = {
	AFG: ["Helmand", "Balkh"],
	AGO: ["Cuanza", "Benguela"],
	ARE: ["Abu Dhabi", "Dubai"],
	ARG: ["Pampas", "Patagonia", "Mendoza"],
	ARM: ["Ararat Valley"],
	AUS: ["Pilbara", "Murray-Darling", "Queensland", "Kimberley"],
	AUT: ["Tyrol", "Danube"],
	AZE: ["Absheron"],
	BEL: ["Flanders", "Wallonia"],
	BEN: ["Atacora"],
	BFA: ["Sahel"],
	BGD: ["Sundarbans", "Meghna", "Ganges Delta"],
	BGR: ["Thrace"],
	BIH: ["Herzegovina"],
	BLR: ["Polesia"],
	BOL: ["Altiplano", "Uyuni"],
	BRA: ["Amazon", "Cerrado", "São Francisco"],
	BTN: ["Paro Valley"],
	BWA: ["Okavango", "Kalahari"],
	CAN: ["Prairies", "Great Lakes", "Hudson Bay"],
	CHE: ["Valais", "Ticino"],
	CHL: ["Atacama", "Biobío", "Patagonia"],
	CHN: ["Yangtze", "Pearl River Delta", "Gansu", "Yunnan"],
	CIV: ["Abidjan", "San-Pédro"],
	CMR: ["Adamawa"],
	COD: ["Congo Basin", "Katanga", "Kivu"],
	COG: ["Pointe-Noire"],
	COL: ["Magdalena", "Orinoquía"],
	CZE: ["Moravia", "Bohemia"],
	DEU: ["Rhine", "Ruhr", "Lusatia", "Bavaria"],
	DNK: ["Jutland"],
	DOM: ["Cibao"],
	DZA: ["Sahara", "Tell Atlas"],
	ECU: ["Guayas"],
	EGY: ["Nile Delta", "Upper Egypt", "Suez"],
	ESP: ["Andalusia", "Ebro", "Canary Islands"],
	EST: ["Ida-Viru"],
	ETH: ["Rift Valley", "Omo Valley", "Awash"],
	FIN: ["Lapland"],
	FJI: ["Viti Levu", "Vanua Levu"],
	FRA: ["Rhône", "Loire", "Provence", "Brittany"],
	FSM: ["Pohnpei", "Chuuk", "Yap"],
	GAB: ["Ogooué"],
	GBR: ["Scottish Highlands", "Humber", "North Sea"],
	GEO: ["Kakheti"],
	GHA: ["Volta", "Ashanti"],
	GIN: ["Simandou", "Fouta Djallon"],
	GRC: ["Thessaly", "Crete", "Peloponnese"],
	GTM: ["Petén"],
	GUY: ["Essequibo"],
	HND: ["Mosquitia"],
	HRV: ["Dalmatia", "Slavonia"],
	HTI: ["Artibonite"],
	HUN: ["Great Hungarian Plain"],
	IDN: ["Java", "Sumatra", "Sulawesi", "Kalimantan"],
	IND: ["Ganges", "Punjab", "Deccan", "Brahmaputra", "Rajasthan"],
	IRL: ["Shannon"],
	IRN: ["Khuzestan", "Caspian"],
	IRQ: ["Tigris", "Euphrates", "Basra"],
	ISL: ["Reykjanes"],
	ISR: ["Negev", "Galilee"],
	ITA: ["Po Valley", "Sicily", "Sardinia"],
	JAM: ["Blue Mountains"],
	JOR: ["Jordan Valley", "Aqaba"],
	JPN: ["Hokkaido", "Kyushu", "Tohoku"],
	KAZ: ["Caspian", "Mangystau", "Karaganda"],
	KEN: ["Rift Valley", "Lake Victoria", "Turkana"],
	KGZ: ["Issyk-Kul"],
	KHM: ["Mekong", "Tonle Sap"],
	KIR: ["Kiritimati"],
	KOR: ["Saemangeum", "Jeju"],
	LAO: ["Mekong"],
	LBN: ["Bekaa Valley"],
	LBY: ["Fezzan", "Cyrenaica"],
	LKA: ["Mahaweli"],
	LSO: ["Lesotho Highlands"],
	LTU: ["Samogitia"],
	LVA: ["Latgale"],
	MAR: ["Atlas", "Souss"],
	MDA: ["Dniester"],
	MDG: ["Menabe"],
	MEX: ["Yucatán", "Sonora", "Oaxaca", "Bajío"],
	MKD: ["Vardar"],
	MLI: ["Sahel", "Niger Inland Delta"],
	MMR: ["Irrawaddy"],
	MNG: ["Gobi"],
	MOZ: ["Zambezi", "Cabo Delgado", "Limpopo"],
	MRT: ["Adrar", "Senegal River"],
	MWI: ["Lake Malawi", "Shire Valley"],
	MYS: ["Sarawak", "Sabah", "Penang"],
	NAM: ["Namib", "Kunene", "Erongo"],
	NER: ["Sahel", "Agadez"],
	NGA: ["Niger Delta", "Lagos", "Kano"],
	NLD: ["Groningen", "Rhine Delta"],
	NOR: ["Finnmark"],
	NPL: ["Terai", "Kathmandu Valley"],
	NZL: ["Canterbury", "Waikato"],
	OMN: ["Dhofar"],
	PAK: ["Indus", "Punjab", "Sindh"],
	PAN: ["Darién"],
	PER: ["Arequipa", "Cusco"],
	PHL: ["Mindanao", "Luzon", "Visayas"],
	PLW: ["Babeldaob"],
	PNG: ["Sepik", "Highlands"],
	POL: ["Silesia", "Vistula"],
	PRT: ["Alentejo", "Douro"],
	PRY: ["Chaco"],
	QAT: ["Ras Laffan"],
	ROU: ["Danube Delta", "Transylvania"],
	RUS: ["Volga", "Siberia", "Kola"],
	RWA: ["Lake Kivu"],
	SAU: ["Red Sea", "Najd"],
	SDN: ["Gezira", "Nile"],
	SEN: ["Casamance", "Senegal River"],
	SGP: ["Jurong"],
	SLB: ["Guadalcanal"],
	SOM: ["Jubba Valley", "Puntland"],
	SRB: ["Vojvodina"],
	SSD: ["White Nile"],
	SVK: ["Tatra"],
	SWE: ["Norrland", "Gotland"],
	SWZ: ["Lowveld"],
	SYR: ["Euphrates"],
	TCD: ["Lake Chad", "Sahel"],
	TGO: ["Plateaux"],
	THA: ["Chao Phraya", "Isan"],
	TJK: ["Pamir"],
	TKM: ["Karakum"],
	TON: ["Tongatapu", "Vava'u"],
	TUN: ["Cap Bon", "Sfax"],
	TUR: ["Anatolia", "Black Sea", "Aegean"],
	TZA: ["Kilimanjaro", "Lake Victoria", "Zanzibar"],
	UGA: ["Lake Victoria", "Karamoja"],
	UKR: ["Dnipro", "Odesa"],
	URY: ["Río de la Plata"],
	USA: ["Mississippi Delta", "Appalachia", "Great Plains", "Rio Grande", "Central Valley", "Gulf Coast"],
	UZB: ["Fergana Valley", "Aral"],
	VEN: ["Orinoco"],
	VNM: ["Mekong Delta", "Red River Delta"],
	VUT: ["Efate"],
	WSM: ["Upolu", "Savai'i"],
	YEM: ["Hadramawt"],
	ZAF: ["Limpopo", "Karoo", "Western Cape", "Highveld"],
	ZMB: ["Copperbelt", "Zambezi"],
	ZWE: ["Zambezi", "Matabeleland"],
};

/** mulberry32: a small, fast, well-distributed 32-bit PRNG; the same seed always gives the same sequence. */
function mulberry32(seed: number) {
	let state = seed >>> 0;
	const nextUint32 = (): number => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return (t ^ (t >>> 14)) >>> 0;
	};
	const next = (): number => nextUint32() / 4294967296;
	return {
		nextUint32,
		next,
		between: (min: number, max: number): number => min + (max - min) * next(),
		intBetween: (min: number, max: number): number => min + Math.floor((max - min + 1) * next()),
		pick: <T>(items: readonly T[]): T => {
			const item = items[Math.floor(items.length * next())];
			if (item === undefined) throw new Error("pick from an empty list");
			return item;
		},
		weighted: <T>(items: readonly T[], weight: (item: T) => number): T => {
			const total = items.reduce((sum, item) => sum + weight(item), 0);
			let target = next() * total;
			for (const item of items) {
				target -= weight(item);
				if (target < 0) return item;
			}
			const last = items[items.length - 1];
			if (last === undefined) throw new Error("weighted pick from an empty list");
			return last;
		},
	};
}

type Prng = ReturnType<typeof mulberry32>;

/** A UUID with the version 4 and RFC 4122 variant bits set, its other 122 bits from the PRNG. */
function uuidV4From(prng: Prng): string {
	const bytes = Array.from({ length: 16 }, () => prng.nextUint32() & 0xff);
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
	const hex = bytes.map((byte) => byte.toString(16).padStart(2, "0")).join("");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

interface Host {
	nation: NationSeed;
	capital: string;
	lat: number;
	lng: number;
	/** How far (degrees of latitude) projects may sit from the capital: larger countries spread wider. */
	spreadDeg: number;
	/** 0.15 (small economies) .. 1 (the largest): small economies host smaller projects. */
	economicScale: number;
	/** Relative chance of hosting a project within its serving region. */
	weight: number;
	/** Offered the `developing` templates. */
	developing: boolean;
}

function hostsByRegion(nationBuild: NationBuild): Map<ServingRegion, Host[]> {
	const capitals = new Map(nationBuild.capitals.map((row) => [row.iso2, row]));
	const hosts = new Map<ServingRegion, Host[]>(SERVING_REGIONS.map((region) => [region, []]));
	for (const nation of nationBuild.nations) {
		const capital = capitals.get(nation.iso2);
		const lat = capital?.capital_lat ?? capital?.lat ?? null;
		const lng = capital?.capital_lng ?? capital?.lng ?? null;
		if (capital === undefined || lat === null || lng === null) {
			throw new Error(`${nation.iso2}: no capital or centre coordinates to place projects at`);
		}
		const gdpBillions = (nation.gdp_cents ?? 0) / 1e11;
		const populationMillions = (nation.population ?? 0) / 1e6;
		const areaKm2 = nationBuild.areaByIso2.get(nation.iso2) ?? 1_000;
		// GDP log10 in USD: Tuvalu ≈ 7.8, the United States ≈ 13.4. Without GDP, assume a small economy.
		const gdpLog = nation.gdp_cents === null ? 9 : Math.log10(nation.gdp_cents / 100);
		hosts.get(nation.serving_region)?.push({
			nation,
			capital: capital.capital ?? nation.name,
			lat,
			lng,
			spreadDeg: clamp((Math.sqrt(areaKm2) / 111) * 0.2, 0.005, 1.5),
			economicScale: clamp((gdpLog - 8) / 5.5, 0.15, 1),
			// Square roots damp the giants: the United States gets more projects than Barbados, not 2,000 times as many.
			weight: Math.sqrt(gdpBillions) + Math.sqrt(populationMillions),
			developing:
				nation.gdp_cents === null ||
				nation.population === null ||
				nation.gdp_cents / 100 / nation.population < DEVELOPING_GDP_PER_CAPITA_USD,
		});
	}
	return hosts;
}

function clamp(value: number, min: number, max: number): number {
	return Math.min(max, Math.max(min, value));
}

function formatCount(value: number): string {
	return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function buildProjects(nationBuild: NationBuild): ProjectSeed[] {
	const prng = mulberry32(PROJECT_SEED);
	const idPrng = mulberry32(PROJECT_ID_SEED);
	const hosts = hostsByRegion(nationBuild);
	const usedNames = new Set<string>();
	const projects: ProjectSeed[] = [];
	for (const region of SERVING_REGIONS) {
		const regionHosts = hosts.get(region) ?? [];
		for (let i = 0; i < PROJECTS_PER_REGION[region]; i++) {
			const sector: SectorSlug =
				i < MIN_PROJECTS_PER_SECTOR_AND_REGION * SECTOR_SLUGS.length
					? (SECTOR_SLUGS[i % SECTOR_SLUGS.length] as SectorSlug)
					: prng.weighted(SECTOR_SLUGS, (slug) => SECTOR_WEIGHTS[region][slug]);
			const host = prng.weighted(regionHosts, (candidate) => candidate.weight);
			projects.push(buildProject(prng, uuidV4From(idPrng), region, sector, host, usedNames));
		}
	}
	return projects.sort(
		(a, b) =>
			compareText(a.nation_iso2, b.nation_iso2) || compareText(a.name, b.name) || compareText(a.id, b.id),
	);
}

function buildProject(
	prng: Prng,
	id: string,
	region: ServingRegion,
	sector: SectorSlug,
	host: Host,
	usedNames: Set<string>,
): ProjectSeed {
	const profile = SECTOR_PROFILES[sector];
	const templates = profile.templates.filter(
		(template) => (template.regions?.includes(region) ?? true) && (host.developing || !template.developing),
	);
	const places = [...(PLACE_NAMES[host.nation.iso3] ?? []), host.capital, host.nation.name];

	// A new place or template for a name already taken; after a few tries, a later phase of the same name.
	let template = prng.pick(templates);
	let name = `${prng.pick(places)} ${template.suffix}`;
	for (let attempt = 0; usedNames.has(name) && attempt < 12; attempt++) {
		template = prng.pick(templates);
		name = `${prng.pick(places)} ${template.suffix}`;
	}
	if (usedNames.has(name)) {
		let phase = 2;
		while (usedNames.has(`${name} Phase ${phase}`)) phase++;
		name = `${name} Phase ${phase}`;
	}
	usedNames.add(name);

	const [minUsd, maxUsd] = profile.budgetUsd;
	// Log-uniform between the sector's minimum and a maximum scaled (in log space) by the host's economy.
	const scaledMaxUsd = minUsd * (maxUsd / minUsd) ** host.economicScale;
	const budgetUsd =
		Math.round(Math.exp(prng.between(Math.log(minUsd), Math.log(scaledMaxUsd))) / 10_000) * 10_000;
	const budgetCents = budgetUsd * 100;

	const status = prng.weighted(PROJECT_STATUSES, (candidate) => PROJECT_STATUS_WEIGHTS[candidate]);
	const [minShare, maxShare] = FUNDED_SHARE[status];
	// Funding arrives in round USD 10,000 tranches; never more than the budget.
	const fundedCents = Math.min(
		budgetCents,
		Math.round((budgetUsd * prng.between(minShare, maxShare)) / 10_000) * 10_000 * 100,
	);

	const latitude = clamp(host.lat + host.spreadDeg * prng.between(-1, 1), -89.9999, 89.9999);
	const lngSpread = host.spreadDeg / Math.max(0.2, Math.cos((host.lat * Math.PI) / 180));
	const longitude = ((host.lng + lngSpread * prng.between(-1, 1) + 540) % 360) - 180;

	return {
		id,
		name,
		sector,
		nation_iso2: host.nation.iso2,
		status,
		budget_cents: budgetCents,
		funded_cents: fundedCents,
		expected_yield_bps: prng.intBetween(profile.yieldBps[0], profile.yieldBps[1]),
		lat: round4(latitude),
		lng: round4(longitude),
		// A capital such as "Washington, D.C." may already end the sentence.
		summary: template
			.summary({
				nation: NAMES_WITH_ARTICLE.has(host.nation.iso3) ? `the ${host.nation.name}` : host.nation.name,
				capital: host.capital,
				units: (usdPerUnit) =>
					formatCount(twoSignificantDigits(Math.max(1, Math.round(budgetUsd / usdPerUnit)))),
			})
			.replace(/\.\.$/, "."),
	};
}

/** Counts from 1,000 up are rounded to two significant digits: a plan says 220,000 children, not 215,167. */
function twoSignificantDigits(value: number): number {
	if (value < 1_000) return value;
	const unit = 10 ** (Math.floor(Math.log10(value)) - 1);
	return Math.round(value / unit) * unit;
}

function round4(value: number): number {
	return Math.round(value * 10_000) / 10_000;
}

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------

function writeJson(file: string, value: unknown): void {
	writeFileSync(join(outputDir, file), `${JSON.stringify(value, null, 2)}\n`);
}

function formatUsd(cents: number): string {
	const text = String(cents).padStart(3, "0");
	return `USD ${formatCount(Number(text.slice(0, -2)))}.${text.slice(-2)}`;
}

function printSummary(nations: NationSeed[], projects: ProjectSeed[]): void {
	const active = nations.filter((nation) => nation.covenant_status === "active");
	const total = active.reduce((sum, nation) => sum + nation.annual_contribution_cents, 0);
	console.log(
		`nations: ${nations.length} (${active.length} active), annual contributions ${formatUsd(total)}`,
	);
	const perRegion = SERVING_REGIONS.map(
		(region) => `${region} ${nations.filter((nation) => nation.serving_region === region).length}`,
	);
	console.log(`nations per serving region: ${perRegion.join(", ")}`);

	const regionOf = new Map(nations.map((nation) => [nation.iso2, nation.serving_region]));
	const width = 12;
	const header = ["sector".padEnd(width), ...SERVING_REGIONS.map((r) => r.padStart(5)), "total".padStart(6)];
	console.log(`\nprojects: ${projects.length}\n${header.join("")}`);
	for (const sector of [...SECTOR_SLUGS, "total"]) {
		const inSector = projects.filter((project) => sector === "total" || project.sector === sector);
		const cells = SERVING_REGIONS.map((region) =>
			String(inSector.filter((project) => regionOf.get(project.nation_iso2) === region).length).padStart(5),
		);
		console.log(`${sector.padEnd(width)}${cells.join("")}${String(inSector.length).padStart(6)}`);
	}
}

function main(): void {
	const nationBuild = buildNations();
	const projects = buildProjects(nationBuild);
	const capitals: CapitalsFile = { license: "MPL-2.0", source: CAPITALS_SOURCE, rows: nationBuild.capitals };
	const data = { nations: nationBuild.nations, capitals, sectors: [...SECTORS], projects };

	const validation = validateSeeds(data);
	if (!validation.ok) {
		throw new Error(`the built seeds do not validate:\n${validation.errors.join("\n")}`);
	}
	mkdirSync(outputDir, { recursive: true });
	writeJson("nations.json", data.nations);
	writeJson("capitals.json", data.capitals);
	writeJson("sectors.json", data.sectors);
	writeJson("projects.json", data.projects);
	console.log(`wrote ${outputDir}/{nations,capitals,sectors,projects}.json from ${sharedDataDir}`);
	printSummary(data.nations, data.projects);
}

main();
