import type { Context } from "hono";
import type { Project } from "../../db/queries/projects.ts";
import type { AppEnv } from "../../lib/context.ts";
import { presentProject } from "./schema.ts";

/**
 * Publishes `covenant.projects.created|updated` after the write committed. The event id is derived from the
 * project and its new version, so an idempotent retry of the same write (which publishes again in case the
 * first attempt died before publishing) is deduplicated by every consumer. The producer parks what the
 * queues refuse in its outbox; if even that fails the write is still committed, so the failure is logged
 * rather than turned into an error for a change that happened.
 */
export async function publishProjectEvent(
	c: Context<AppEnv>,
	type: "covenant.projects.created" | "covenant.projects.updated",
	row: Project,
	details: { before?: Project; changed?: string[] } = {},
): Promise<void> {
	const after = presentProject(row);
	try {
		await c.var.events.publish({
			id: `project:${row.id}:v${row.version}`,
			type,
			subject: `projects/${row.id}`,
			actor: c.var.principal.id,
			data: {
				project_id: row.id,
				name: row.name,
				sector: row.sector,
				nation: row.nationIso2,
				serving_region: row.servingRegion,
				status: row.status,
				version: row.version,
				...(details.changed ? { changed: details.changed } : {}),
				...(details.before ? { before: presentProject(details.before) } : {}),
				after,
			},
		});
	} catch (error) {
		console.error(
			JSON.stringify({ msg: "event not published", type, project: row.id, error: String(error) }),
		);
	}
}
