import type { App } from "../../app.ts";
import {
	CONSISTENCY_HEADER,
	cachedJson,
	cachedReadHeaders,
	decodeConsistencyToken,
	itemKey,
	minItemVersion,
	notModifiedResponse,
	readRequestParameters,
	readThrough,
	waitUntilOf,
} from "../../cache/index.ts";
import { findProject } from "../../db/queries/projects.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { ProjectIdParam, type ProjectResponse, ProjectSchema, projectEntry } from "./schema.ts";

export type GetProjectResponse = ProjectResponse;

export const route = defineRoute({
	method: "get",
	path: "/v1/projects/{id}",
	tags: ["projects"],
	summary: "One project",
	description:
		"A project outside the caller's nation, sector or region scope answers 404, exactly like one that does not exist.",
	access: { permission: "projects:read" },
	request: { params: ProjectIdParam },
	parameters: readRequestParameters,
	responses: {
		200: {
			description: "The project",
			headers: cachedReadHeaders,
			content: { "application/json": { schema: ProjectSchema } },
		},
		...notModifiedResponse,
		...problemResponses(400, 404, 406, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		const token = decodeConsistencyToken(c.req.header(CONSISTENCY_HEADER));
		const read = await readThrough(c.env, {
			key: itemKey("projects", id),
			minVersion: minItemVersion(token, "projects", id),
			waitUntil: waitUntilOf(c),
			load: async () => {
				const row = await findProject(c.var.db(), id);
				return row ? projectEntry(row) : null;
			},
		});
		if (!read) throw new ApiError("not_found", `Project ${id} was not found`);
		// The entry is shared by every caller; the object-level check is per caller, before any 304.
		c.get("principal").assert("projects:read", read.entry.access ?? {}, `Project ${id}`);
		return cachedJson<GetProjectResponse>(c, read);
	});
