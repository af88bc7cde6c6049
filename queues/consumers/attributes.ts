import { sql } from "drizzle-orm";
import { SERVING_REGIONS } from "../../workers/domain/serving-regions.ts";
import { type Executor, textArray } from "../db.ts";
import type { CloudEvent } from "../envelope.ts";
import { SECTOR_SLUGS, sectorOfType } from "../events/types.ts";

/** What consumers route and roll up by: the event's sector, serving region and nation, with display names. */
export interface EventAttributes {
	sector: string | null;
	servingRegion: string | null;
	nation: string | null;
	projectId: string | null;
	projectName: string | null;
	nationName: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const pick = <T extends string>(value: unknown, allowed: readonly T[]): T | null =>
	typeof value === "string" && (allowed as readonly string[]).includes(value) ? (value as T) : null;
const iso2 = (value: unknown): string | null =>
	typeof value === "string" && /^[A-Z]{2}$/.test(value) ? value : null;

/**
 * The attributes of each event: what its data names, completed from Postgres (the project's sector, host
 * nation and serving region; the nation's serving region and name) when the producer left them out. Two
 * queries per batch at most, whatever its size.
 */
export async function resolveAttributes(
	db: Executor,
	events: CloudEvent[],
): Promise<Map<string, EventAttributes>> {
	const attributes = new Map<string, EventAttributes>();
	for (const event of events) {
		const data = event.data;
		const projectId = typeof data.project_id === "string" ? data.project_id : null;
		attributes.set(event.id, {
			sector: pick(data.sector, SECTOR_SLUGS) ?? sectorOfType(event.type) ?? null,
			servingRegion: pick(data.serving_region, SERVING_REGIONS),
			nation: iso2(data.nation),
			projectId,
			projectName: typeof data.name === "string" && projectId ? data.name : null,
			nationName: null,
		});
	}

	const projectIds = [
		...new Set(
			[...attributes.values()].map((a) => a.projectId).filter((id): id is string => !!id && UUID.test(id)),
		),
	];
	if (projectIds.length > 0) {
		const rows = await db.execute<{
			id: string;
			name: string;
			sector: string;
			serving_region: string;
			nation_iso2: string;
		}>(sql`
			select id::text, name, sector, serving_region, nation_iso2 from projects
			where id = any(${textArray(projectIds)}::uuid[])`);
		const byId = new Map(rows.rows.map((r) => [r.id, r]));
		for (const a of attributes.values()) {
			const project = a.projectId ? byId.get(a.projectId.toLowerCase()) : undefined;
			if (!project) continue;
			a.sector ??= project.sector;
			a.nation ??= project.nation_iso2;
			a.servingRegion ??= project.serving_region;
			a.projectName ??= project.name;
		}
	}

	const nations = [...new Set([...attributes.values()].map((a) => a.nation).filter((n): n is string => !!n))];
	if (nations.length > 0) {
		const rows = await db.execute<{ iso2: string; name: string; serving_region: string }>(sql`
			select iso2, name, serving_region from nations where iso2 = any(${textArray(nations)})`);
		const byIso2 = new Map(rows.rows.map((r) => [r.iso2, r]));
		for (const a of attributes.values()) {
			const nation = a.nation ? byIso2.get(a.nation) : undefined;
			if (!nation) continue;
			// A project's serving region is its host nation's: fill it from the nation when still unknown.
			a.servingRegion ??= nation.serving_region;
			a.nationName = nation.name;
		}
	}
	return attributes;
}
