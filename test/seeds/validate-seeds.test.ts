import { describe, expect, it } from "vitest";
import { seedData } from "../../seeds/index.ts";
import type { SeedInput } from "../../seeds/schema.ts";
import { NATION_COUNT, SECTOR_SLUGS, validateSeeds } from "../../seeds/schema.ts";
import { SERVING_REGIONS, servingRegionFor } from "../../workers/domain/serving-regions.ts";

type Row = Record<string, unknown>;

interface MutableSeeds extends SeedInput {
	nations: Row[];
	capitals: { license: string; source: string; rows: Row[] };
	sectors: Row[];
	projects: Row[];
}

/** A deep copy of the committed seeds to break one row at a time. */
function seeds(): MutableSeeds {
	return structuredClone(seedData) as MutableSeeds;
}

function row(rows: Row[], index: number): Row {
	const found = rows[index];
	if (found === undefined) throw new Error(`no row ${index}`);
	return found;
}

function errorsOf(data: SeedInput): string[] {
	const result = validateSeeds(data);
	if (result.ok) throw new Error("expected the seeds to be refused");
	return result.errors;
}

describe("the committed seeds", () => {
	const result = validateSeeds(seedData);

	it("validate", () => {
		expect(result.ok ? [] : result.errors).toEqual([]);
	});

	it("hold 195 nations, the six sectors and 540+ projects", () => {
		if (!result.ok) throw new Error("invalid seeds");
		const { nations, capitals, sectors, projects } = result.value;
		expect(nations).toHaveLength(NATION_COUNT);
		expect(capitals.rows).toHaveLength(NATION_COUNT);
		expect(capitals.license).toBe("MPL-2.0");
		expect(sectors.map((sector) => sector.slug).sort()).toEqual([...SECTOR_SLUGS].sort());
		expect(projects.length).toBeGreaterThanOrEqual(540);
	});

	it("keep the known gaps as gaps and Namibia as NA", () => {
		if (!result.ok) throw new Error("invalid seeds");
		const byIso2 = new Map(result.value.nations.map((nation) => [nation.iso2, nation]));
		expect(byIso2.get("NA")?.iso3).toBe("NAM");
		for (const iso2 of ["KP", "VA"]) {
			expect(byIso2.get(iso2)?.gdp_cents).toBeNull();
			expect(byIso2.get(iso2)?.gdp_year).toBeNull();
		}
		expect(byIso2.get("VA")?.population).toBe(882);
		expect(byIso2.get("VA")?.population_year).toBeNull();
		expect(byIso2.get("VE")?.gdp_year).toBe(2014);
	});

	it("spread projects over every sector in every serving region", () => {
		if (!result.ok) throw new Error("invalid seeds");
		const regionOf = new Map(result.value.nations.map((nation) => [nation.iso2, nation.serving_region]));
		for (const region of SERVING_REGIONS) {
			expect(
				result.value.nations.filter((nation) => nation.serving_region === region).length,
			).toBeGreaterThan(5);
			for (const sector of SECTOR_SLUGS) {
				const count = result.value.projects.filter(
					(project) => project.sector === sector && regionOf.get(project.nation_iso2) === region,
				).length;
				expect(count, `${sector} in ${region}`).toBeGreaterThanOrEqual(8);
			}
		}
	});
});

describe("validateSeeds refuses a bad row, naming the file, row and key", () => {
	it("a malformed iso2", () => {
		const data = seeds();
		row(data.nations, 3).iso2 = "ad";
		row(data.projects, 7).nation_iso2 = "k3";
		const errors = errorsOf(data);
		expect(errors).toContainEqual(
			expect.stringMatching(/^nations\.json row 3 \(iso2 "ad"\): iso2: expected ISO 3166-1 alpha-2/),
		);
		const id = JSON.stringify(row(data.projects, 7).id);
		expect(errors).toContainEqual(
			expect.stringContaining(`projects.json row 7 (id ${id}): nation_iso2: expected ISO`),
		);
	});

	it("money that is not an integer number of cents", () => {
		const data = seeds();
		const project = row(data.projects, 12);
		project.budget_cents = Number(project.budget_cents) + 0.5;
		const nation = row(data.nations, 20);
		nation.gdp_cents = 1e21;
		const errors = errorsOf(data);
		expect(errors).toContainEqual(
			`projects.json row 12 (id ${JSON.stringify(project.id)}): budget_cents: expected integer cents`,
		);
		expect(errors).toContainEqual(
			`nations.json row 20 (iso2 ${JSON.stringify(nation.iso2)}): gdp_cents: expected cents within ±(2^53 − 1)`,
		);
	});

	it("funding above the budget", () => {
		const data = seeds();
		const index = data.projects.findIndex((project) => project.status === "active");
		const project = row(data.projects, index);
		project.funded_cents = Number(project.budget_cents) + 1;
		expect(errorsOf(data)).toEqual([
			`projects.json row ${index} (id ${JSON.stringify(project.id)}): funded_cents: funded_cents exceeds budget_cents`,
		]);
	});

	it("an unknown sector", () => {
		const data = seeds();
		const project = row(data.projects, 40);
		project.sector = "mining";
		const errors = errorsOf(data);
		expect(errors).toHaveLength(1);
		expect(errors[0]).toMatch(
			new RegExp(`^projects\\.json row 40 \\(id ${JSON.stringify(project.id)}\\): sector: `),
		);
	});

	it("a duplicate key", () => {
		const data = seeds();
		row(data.projects, 51).id = row(data.projects, 50).id;
		row(data.nations, 11).iso3 = row(data.nations, 10).iso3;
		const errors = errorsOf(data);
		expect(errors).toContainEqual(
			`projects.json row 51 (id ${JSON.stringify(row(data.projects, 50).id)}): id: duplicate of row 50 (${JSON.stringify(row(data.projects, 50).id)})`,
		);
		expect(errors).toContainEqual(
			expect.stringMatching(/^nations\.json row 11 \(iso3 "[A-Z]{3}"\): iso3: duplicate of row 10/),
		);
	});

	it("a project whose nation does not exist, and a missing nation", () => {
		const data = seeds();
		const project = row(data.projects, 60);
		project.nation_iso2 = "ZZ";
		expect(errorsOf(data)).toEqual([
			`projects.json row 60 (id ${JSON.stringify(project.id)}): nation_iso2: no nation "ZZ"`,
		]);

		const fewer = seeds();
		const removed = String(row(fewer.nations, 0).iso2);
		fewer.nations.splice(0, 1);
		const errors = errorsOf(fewer);
		expect(errors).toContain(`nations.json: expected ${NATION_COUNT} nations, found ${NATION_COUNT - 1}`);
		expect(errors).toContainEqual(
			expect.stringMatching(new RegExp(`^capitals\\.json row \\d+ \\(iso2 "${removed}"\\): iso2: no nation`)),
		);
	});

	it("a contribution that does not follow the rule, and a wrong serving region", () => {
		const data = seeds();
		const us = data.nations.findIndex((nation) => nation.iso2 === "US");
		row(data.nations, us).annual_contribution_cents = 1;
		row(data.nations, us).serving_region = "ams";
		const errors = errorsOf(data);
		expect(errors).toContain(
			`nations.json row ${us} (iso2 "US"): annual_contribution_cents: expected 250000000000 (contribution rule), found 1`,
		);
		expect(errors).toContain(
			`nations.json row ${us} (iso2 "US"): serving_region: expected "iad", found "ams"`,
		);
	});

	it("a GDP year without a GDP, and a row without its key", () => {
		const data = seeds();
		const vatican = data.nations.findIndex((nation) => nation.iso2 === "VA");
		row(data.nations, vatican).gdp_year = 2023;
		delete row(data.sectors, 2).slug;
		const errors = errorsOf(data);
		expect(errors).toContain(
			`nations.json row ${vatican} (iso2 "VA"): gdp_year: gdp_year must be present exactly when gdp_cents is`,
		);
		expect(errors).toContainEqual(expect.stringMatching(/^sectors\.json row 2 \(slug missing\): slug: /));
	});
});

describe("servingRegionFor", () => {
	const geo = (
		subregion: string,
		region: string,
		intermediateRegion: string | null = null,
		capitalLng: number | null = null,
	) => servingRegionFor({ region, subregion, intermediateRegion, capitalLng });

	it("maps M49 geography to a home region", () => {
		expect(geo("Western Europe", "Europe")).toBe("ams");
		expect(geo("Western Asia", "Asia")).toBe("ams");
		expect(geo("Northern Africa", "Africa")).toBe("ams");
		expect(geo("Sub-Saharan Africa", "Africa", "Western Africa")).toBe("jnb");
		expect(geo("Northern America", "Americas")).toBe("iad");
		expect(geo("Latin America and the Caribbean", "Americas", "Caribbean", -61)).toBe("iad");
		expect(geo("Latin America and the Caribbean", "Americas", "South America", -77.05)).toBe("sfo");
		expect(geo("Latin America and the Caribbean", "Americas", "South America", -47.88)).toBe("iad");
		expect(geo("Latin America and the Caribbean", "Americas", "South America", null)).toBe("iad");
		expect(geo("Southern Asia", "Asia")).toBe("sin");
		expect(geo("Melanesia", "Oceania")).toBe("syd");
		expect(geo("Micronesia", "Oceania")).toBe("sfo");
	});

	it("refuses an unknown or inconsistent geography rather than guessing", () => {
		expect(() => geo("Atlantis", "Europe")).toThrow(/unknown UN M49 sub-region/);
		expect(() => geo("Western Europe", "Asia")).toThrow(/belongs to "Europe"/);
		expect(() => geo("Latin America and the Caribbean", "Americas", null)).toThrow(/intermediate region/);
	});
});
