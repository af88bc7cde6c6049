/**
 * The committed seed data, as parsed JSON (untrusted until `validateSeeds` has checked it; `applySeeds`
 * validates before writing). Import attributes (`with { type: "json" }`) are what Node requires for JSON
 * modules, and esbuild (wrangler), Vite and TypeScript accept them too, so one loader serves the seeding script,
 * the worker bundle and the tests in workerd.
 */
import capitals from "./data/capitals.json" with { type: "json" };
import nations from "./data/nations.json" with { type: "json" };
import projects from "./data/projects.json" with { type: "json" };
import sectors from "./data/sectors.json" with { type: "json" };
import type { SeedInput } from "./schema.ts";

export const seedData: SeedInput = { nations, capitals, sectors, projects };
