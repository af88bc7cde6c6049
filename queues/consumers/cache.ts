import { sql } from "drizzle-orm";
import { bumpListVersion, type CachedResource, invalidate, itemKey } from "../../workers/cache/index.ts";
import { textArray } from "../db.ts";
import type { CloudEvent } from "../envelope.ts";
import { sectorOfType } from "../events/types.ts";
import type { EventConsumer } from "./runner.ts";

/**
 * The cache consumer: drops the cached items an event changed and bumps the list version of their resource,
 * so every list page and aggregate computed before the change gets a new key (workers/cache, docs/caching.md).
 * Writes through the API already do this for themselves; this brings in everyone else's changes (ledger
 * projections, other regions, operators) without waiting for TTLs.
 *
 * The KV work runs inside the transaction, before the event is recorded as processed: if KV fails the
 * transaction rolls back and the message is retried; if the commit fails after KV succeeded, the retry
 * repeats work that is idempotent anyway. One bump per resource per batch, however many events named it.
 */
export const cacheConsumer: EventConsumer = {
	name: "cache",
	async apply(tx, events, { env }) {
		const keys = new Set<string>();
		const resources = new Set<CachedResource>();
		const nations = new Set<string>();
		for (const event of events) {
			const stale = staleOf(event);
			if (!stale) continue;
			resources.add(stale.resource);
			if (stale.resource === "nations") nations.add(stale.id);
			keys.add(itemKey(stale.resource, stale.id));
		}
		if (nations.size > 0) {
			// A nation is cached under both of its codes.
			const rows = await tx.execute<{ iso3: string }>(
				sql`select iso3 from nations where iso2 = any(${textArray([...nations])})`,
			);
			for (const row of rows.rows) keys.add(itemKey("nations", row.iso3));
		}
		if (keys.size > 0) await invalidate(env, ...keys);
		for (const resource of resources) await bumpListVersion(env, resource);
		return undefined;
	},
};

/** The cached item an event makes stale (its list version goes with it), or null when it touches none. */
export function staleOf(event: CloudEvent): { resource: CachedResource; id: string } | null {
	const sector = sectorOfType(event.type);
	if (sector) return { resource: "sectors", id: sector };
	switch (event.type) {
		case "covenant.countries.updated":
			return { resource: "nations", id: event.data.nation as string };
		case "covenant.projects.created":
		case "covenant.projects.updated":
			return { resource: "projects", id: event.data.project_id as string };
		default:
			return null;
	}
}
