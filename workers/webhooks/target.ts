import { sql } from "drizzle-orm";
import type { Executor } from "../../queues/db.ts";
import { textArray } from "../../queues/db.ts";
import type { CloudEvent } from "../../queues/envelope.ts";
import { sectorOfType } from "../../queues/events/types.ts";
import type { AccessTarget } from "../auth/permissions.ts";

/**
 * What an event concerns (host nation, sector, serving region), for scope filters and for the owner's
 * visibility. Taken from the event's data; what a project event leaves out is read from the project, and a
 * nation's serving region from the nation. An attribute that cannot be known stays unset, and a filter or a
 * scoped owner that needs it does not receive the event (never guess in the partner's favour).
 */
export async function resolveTargets(
	db: Executor,
	events: readonly CloudEvent[],
): Promise<Map<string, AccessTarget>> {
	const partial = new Map<string, { target: AccessTarget; projectId?: string }>();
	for (const event of events) partial.set(event.id, fromData(event));

	const projectIds = [...new Set([...partial.values()].flatMap((p) => (p.projectId ? [p.projectId] : [])))];
	if (projectIds.length > 0) {
		const rows = await db.execute<{ id: string; nation: string; sector: string; region: string }>(sql`
			select id::text as id, nation_iso2 as nation, sector, serving_region as region
			from projects where id::text = any(${textArray(projectIds)})`);
		const byId = new Map(rows.rows.map((r) => [r.id, r]));
		for (const entry of partial.values()) {
			const project = entry.projectId ? byId.get(entry.projectId) : undefined;
			if (!project) continue;
			entry.target.nation ??= project.nation;
			entry.target.sector ??= project.sector;
			entry.target.region ??= project.region;
		}
	}

	const nations = [
		...new Set(
			[...partial.values()].flatMap((p) => (p.target.nation && !p.target.region ? [p.target.nation] : [])),
		),
	];
	if (nations.length > 0) {
		const rows = await db.execute<{ iso2: string; region: string }>(sql`
			select iso2, serving_region as region from nations where iso2 = any(${textArray(nations)})`);
		const regionOf = new Map(rows.rows.map((r) => [r.iso2, r.region]));
		for (const { target } of partial.values()) {
			if (target.nation && !target.region) {
				const region = regionOf.get(target.nation);
				if (region) target.region = region;
			}
		}
	}
	return new Map([...partial].map(([id, p]) => [id, p.target]));
}

function fromData(event: CloudEvent): { target: AccessTarget; projectId?: string } {
	const data = event.data;
	const text = (key: string) => (typeof data[key] === "string" ? (data[key] as string) : undefined);
	const target: AccessTarget = {};
	const nation = text("nation");
	const sector = text("sector") ?? sectorOfType(event.type);
	const region = text("serving_region");
	if (nation) target.nation = nation;
	if (sector) target.sector = sector;
	if (region) target.region = region;
	const projectId = text("project_id");
	const needsProject = projectId && (!target.nation || !target.sector || !target.region);
	return needsProject ? { target, projectId } : { target };
}
