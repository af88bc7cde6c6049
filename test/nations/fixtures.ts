import { env } from "cloudflare:test";
import { ROUTES } from "../../queues/routing.ts";
import { inArray } from "drizzle-orm";
import { type Database, withDb } from "../../workers/db/client.ts";
import { nations } from "../../workers/db/schema/nations.ts";
import { projects } from "../../workers/db/schema/projects.ts";

/** Runs `fn` on a Postgres connection of its own (test setup, assertions against the source of truth). */
export function sql<T>(fn: (db: Database) => Promise<T>): Promise<T> {
	return withDb(env, fn);
}

/**
 * Temporary nations for write tests, so no seeded nation (which other suites read) is ever changed. Their codes
 * come from ISO 3166's user-assigned range (X*), which no real nation uses.
 */
export async function createTempNations(codes: { iso2: string; iso3: string }[]): Promise<void> {
	await sql((db) =>
		db.insert(nations).values(
			codes.map(({ iso2, iso3 }) => ({
				iso2,
				iso3,
				m49: "999",
				name: `Testland ${iso2}`,
				officialName: `Republic of Testland ${iso2}`,
				region: "Oceania",
				subregion: "Polynesia",
				servingRegion: "syd",
				capital: "Test City",
				population: 1000,
				populationYear: 2024,
				gdpCents: 500_000_000_000,
				gdpYear: 2023,
				covenantStatus: "candidate",
				contributionRatePpm: 50,
				annualContributionCents: 0,
			})),
		),
	);
}

export async function deleteTempNations(iso2s: string[]): Promise<void> {
	await sql(async (db) => {
		await db.delete(projects).where(inArray(projects.nationIso2, iso2s));
		await db.delete(nations).where(inArray(nations.iso2, iso2s));
	});
}

/**
 * Stand-ins for every consumer queue binding the event producer sends to (queues/routing.ts) that record what
 * a write emits. Pass `env` as the call's env overrides; `events` lists each event once (the producer sends
 * one copy per consumer queue). Also keeps the real consumers (e.g. cache invalidation) from reacting to the
 * test's writes at an unpredictable moment.
 */
export function recordEvents(): { env: Partial<Env>; events: Record<string, unknown>[] } {
	const events: Record<string, unknown>[] = [];
	const record = (body: unknown) => {
		const event = body as Record<string, unknown>;
		if (!events.some((seen) => seen.id === event.id)) events.push(event);
	};
	const queue = {
		async send(body: unknown) {
			record(body);
		},
		async sendBatch(messages: Iterable<{ body: unknown }>) {
			for (const message of messages) record(message.body);
		},
	} as unknown as Queue;
	const bindings = Object.fromEntries(ROUTES.map((route) => [route.binding, queue]));
	return { env: bindings as Partial<Env>, events };
}
