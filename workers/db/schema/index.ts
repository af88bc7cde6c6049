// Every Postgres table, one file each. drizzle-kit reads this module to generate migrations/.
export * from "./nations.ts";
export * from "./projects.ts";
export * from "./sectors.ts";
