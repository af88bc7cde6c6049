import { z } from "@hono/zod-openapi";
import type { App } from "../../app.ts";
import {
	commitWrite,
	ifMatchSatisfied,
	listVersion,
	strictBody,
	writeRequestHeaders,
	writeResponseHeaders,
	writtenJson,
} from "../../cache/index.ts";
import { findNation } from "../../db/queries/nations.ts";
import { lockProject, type ProjectChanges, updateProject } from "../../db/queries/projects.ts";
import { findSector } from "../../db/queries/sectors.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { publishProjectEvent } from "./events.ts";
import {
	PROJECT_READ_ONLY_FIELDS,
	PROJECT_STATUSES,
	ProjectIdParam,
	type ProjectResponse,
	ProjectSchema,
	type ProjectStatus,
	projectEntry,
	projectFields,
	projectTarget,
	STATUS_TRANSITIONS,
} from "./schema.ts";

export const UpdateProjectBody = strictBody(
	{
		name: projectFields.name.optional(),
		sector: projectFields.sector.optional(),
		nation_iso2: projectFields.nation_iso2.optional(),
		status: z.enum(PROJECT_STATUSES).optional(),
		budget_cents: projectFields.budget_cents.optional(),
		funded_cents: projectFields.funded_cents.optional(),
		expected_yield_bps: projectFields.expected_yield_bps.optional(),
		lat: projectFields.lat.optional(),
		lng: projectFields.lng.optional(),
		summary: projectFields.summary.optional(),
	},
	PROJECT_READ_ONLY_FIELDS,
)
	.refine((body) => Object.values(body).some((value) => value !== undefined), {
		message: "Send at least one field to change",
	})
	.openapi("UpdateProject");
export type UpdateProjectRequest = z.infer<typeof UpdateProjectBody>;
export type UpdateProjectResponse = ProjectResponse;

export const route = defineRoute({
	method: "patch",
	path: "/v1/projects/{id}",
	tags: ["projects"],
	summary: "Change a project",
	description:
		"Needs projects:write on the project as it is and, when the host nation or sector changes, as it will be. Status follows the lifecycle proposed → approved → active → completed, with suspended reachable from any but completed and resuming to approved or active (422 otherwise). funded_cents never exceeds budget_cents (422). Send If-Match with the ETag you read to avoid overwriting someone else's change (412). Sending the current values changes nothing.",
	access: { permission: "projects:write" },
	request: {
		params: ProjectIdParam,
		headers: writeRequestHeaders,
		body: { required: true, content: { "application/json": { schema: UpdateProjectBody } } },
	},
	responses: {
		200: {
			description: "The project after the change",
			headers: writeResponseHeaders,
			content: { "application/json": { schema: ProjectSchema } },
		},
		...problemResponses(400, 404, 406, 409, 412, 413, 415, 422, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		const body = c.req.valid("json");
		const principal = c.var.principal;

		const outcome = await inTransaction(c.var.db(), async (tx) => {
			const current = await lockProject(tx, id);
			if (!current) throw new ApiError("not_found", `Project ${id} was not found`);
			principal.assert("projects:write", projectTarget(current), `Project ${id}`);
			const before = await projectEntry(current);
			if (!ifMatchSatisfied(c.req.header("if-match"), before.etag)) {
				throw new ApiError("precondition_failed", `Project ${id} has changed since the ETag you sent`, {
					headers: { etag: before.etag },
				});
			}

			const next = { ...current };
			if (body.nation_iso2 !== undefined && body.nation_iso2.toUpperCase() !== current.nationIso2) {
				const code = body.nation_iso2.toUpperCase();
				const nation = await findNation(tx, code);
				if (!nation) throw unprocessable("nation_iso2", `No nation has the code '${code}'`);
				Object.assign(next, {
					nationIso2: nation.iso2,
					servingRegion: nation.servingRegion,
					region: nation.region,
				});
			}
			if (body.sector !== undefined && body.sector !== current.sector) {
				if (!(await findSector(tx, body.sector))) {
					throw unprocessable("sector", `No sector has the slug '${body.sector}'`);
				}
				next.sector = body.sector;
			}
			const moved = next.nationIso2 !== current.nationIso2 || next.sector !== current.sector;
			if (moved && !principal.can("projects:write", projectTarget(next))) {
				throw new ApiError(
					"forbidden",
					`Your scopes do not allow moving project ${id} to nation ${next.nationIso2}, sector ${next.sector} (serving region ${next.servingRegion})`,
				);
			}
			if (body.status !== undefined && body.status !== current.status) {
				const allowed = STATUS_TRANSITIONS[current.status as ProjectStatus] ?? [];
				if (!allowed.includes(body.status)) {
					throw unprocessable(
						"status",
						`A ${current.status} project cannot become ${body.status}; it can become ${allowed.join(" or ") || "nothing else (completed is final)"}`,
					);
				}
				next.status = body.status;
			}
			if (body.name !== undefined) next.name = body.name;
			if (body.budget_cents !== undefined) next.budgetCents = body.budget_cents;
			if (body.funded_cents !== undefined) next.fundedCents = body.funded_cents;
			if (body.expected_yield_bps !== undefined) next.expectedYieldBps = body.expected_yield_bps;
			if (body.lat !== undefined) next.lat = body.lat;
			if (body.lng !== undefined) next.lng = body.lng;
			if (body.summary !== undefined) next.summary = body.summary;
			if (next.fundedCents > next.budgetCents) {
				throw unprocessable(
					body.funded_cents !== undefined ? "funded_cents" : "budget_cents",
					`funded_cents (${next.fundedCents}) cannot exceed budget_cents (${next.budgetCents})`,
				);
			}

			const changes: ProjectChanges = {};
			for (const field of WRITABLE_COLUMNS) {
				if (next[field] !== current[field]) Object.assign(changes, { [field]: next[field] });
			}
			if (Object.keys(changes).length === 0) return { row: current, previous: current, changed: [] };
			const row = await updateProject(tx, id, changes);
			return { row, previous: current, changed: Object.keys(changes).map(snakeCase) };
		});

		const { row, previous, changed } = outcome;
		const entry = await projectEntry(row);
		if (changed.length === 0) {
			const version = (await listVersion(c.env, "projects")) ?? 0;
			return writtenJson<UpdateProjectResponse, 200>(entry, 200, {
				resource: "projects",
				listVersion: version,
				ids: [row.id],
				version: row.version,
			});
		}
		const token = await commitWrite(c.env, { resource: "projects", ids: [row.id], entry });
		await publishProjectEvent(c, "covenant.projects.updated", row, { before: previous, changed });
		return writtenJson<UpdateProjectResponse, 200>(entry, 200, token);
	});

const WRITABLE_COLUMNS = [
	"name",
	"sector",
	"nationIso2",
	"servingRegion",
	"region",
	"status",
	"budgetCents",
	"fundedCents",
	"expectedYieldBps",
	"lat",
	"lng",
	"summary",
] as const satisfies readonly (keyof ProjectChanges)[];

function unprocessable(field: string, message: string): ApiError {
	return new ApiError("unprocessable", message, {
		errors: [{ path: [field], message, code: "unprocessable" }],
	});
}

function snakeCase(field: string): string {
	return field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
