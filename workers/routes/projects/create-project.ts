import { z } from "@hono/zod-openapi";
import type { App } from "../../app.ts";
import type { Principal } from "../../auth/principal.ts";
import { commitWrite, strictBody, writeResponseHeaders, writtenJson } from "../../cache/index.ts";
import { findNation } from "../../db/queries/nations.ts";
import {
	findProjectIncludingDeleted,
	insertProject,
	type NewProject,
	type Project,
} from "../../db/queries/projects.ts";
import { findSector } from "../../db/queries/sectors.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { publishProjectEvent } from "./events.ts";
import {
	INITIAL_STATUSES,
	PROJECT_READ_ONLY_FIELDS,
	type ProjectResponse,
	ProjectSchema,
	presentProject,
	projectEntry,
	projectFields,
} from "./schema.ts";

export const CreateProjectBody = strictBody(
	{
		...projectFields,
		status: z.enum(INITIAL_STATUSES).default("proposed"),
		funded_cents: projectFields.funded_cents.default(0),
	},
	PROJECT_READ_ONLY_FIELDS,
)
	.refine((body) => body.funded_cents <= body.budget_cents, {
		message: "funded_cents cannot exceed budget_cents",
		path: ["funded_cents"],
	})
	.openapi("CreateProject");
export type CreateProjectRequest = z.input<typeof CreateProjectBody>;
export type CreateProjectResponse = ProjectResponse;

const CreateProjectHeaders = z.object({
	"idempotency-key": z
		.string()
		.min(1)
		.max(255)
		.regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces")
		.optional()
		.openapi({
			description:
				"Makes retries safe: the same key with the same body returns the project the first call created (201, Idempotent-Replayed: true) instead of a second one; with a different body, 422",
		}),
});

export const route = defineRoute({
	method: "post",
	path: "/v1/projects",
	tags: ["projects"],
	summary: "Create a project",
	description:
		"Needs projects:write on the host nation, the sector or the nation's serving region. `serving_region` and `region` are derived from the host nation. Send an Idempotency-Key to make retries safe.",
	access: { permission: "projects:write" },
	request: {
		headers: CreateProjectHeaders,
		body: { required: true, content: { "application/json": { schema: CreateProjectBody } } },
	},
	responses: {
		201: {
			description:
				"The project was created (or, with Idempotent-Replayed: true, had been by an earlier call)",
			headers: {
				...writeResponseHeaders,
				Location: { description: "The project's URL", schema: { type: "string" } },
			},
			content: { "application/json": { schema: ProjectSchema } },
		},
		...problemResponses(400, 406, 409, 413, 415, 422, 503),
	},
});

type Fields = z.output<typeof CreateProjectBody>;

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const body = c.req.valid("json");
		const principal = c.var.principal;
		const idempotencyKey = c.req.valid("header")["idempotency-key"];
		const id = idempotencyKey ? await idempotentProjectId(principal, idempotencyKey) : crypto.randomUUID();
		const nationCode = body.nation_iso2.toUpperCase();

		const outcome = await inTransaction(c.var.db(), async (tx) => {
			const nation = await findNation(tx, nationCode);
			if (!nation) throw unknownReference("nation_iso2", `No nation has the code '${nationCode}'`);
			if (!(await findSector(tx, body.sector))) {
				throw unknownReference("sector", `No sector has the slug '${body.sector}'`);
			}
			const target = { nation: nation.iso2, sector: body.sector, region: nation.servingRegion };
			if (!principal.can("projects:write", target)) {
				throw new ApiError(
					"forbidden",
					`Your scopes do not allow creating a project in nation ${nation.iso2}, sector ${body.sector} (serving region ${nation.servingRegion})`,
				);
			}
			const values: NewProject = {
				id,
				name: body.name,
				sector: body.sector,
				nationIso2: nation.iso2,
				servingRegion: nation.servingRegion,
				region: nation.region,
				status: body.status,
				budgetCents: body.budget_cents,
				fundedCents: body.funded_cents,
				expectedYieldBps: body.expected_yield_bps,
				lat: body.lat,
				lng: body.lng,
				summary: body.summary,
			};
			const inserted = await insertProject(tx, values);
			if (inserted) return { row: inserted, replayed: false };
			return { row: await replayOf(tx, id, values), replayed: true };
		});

		const { row, replayed } = outcome;
		const entry = await projectEntry(row);
		// A replay repeats the cache and event steps: the first call may have died between commit and them,
		// and both are idempotent (newer-wins write-through, event id derived from the row version).
		const token = await commitWrite(c.env, { resource: "projects", ids: [row.id], entry });
		await publishProjectEvent(c, "covenant.projects.created", row);
		return writtenJson<CreateProjectResponse, 201>(entry, 201, token, {
			location: `/v1/projects/${row.id}`,
			...(replayed ? { "idempotent-replayed": "true" } : {}),
		});
	});

function unknownReference(field: keyof Fields, message: string): ApiError {
	return new ApiError("unprocessable", message, {
		errors: [{ path: [field], message, code: "unknown_reference" }],
	});
}

/**
 * The project an earlier call with the same Idempotency-Key created. The same request gets it back; a
 * different request under the same key is refused (422), as is a replay after the project was changed or
 * deleted, when "the same" can no longer be told (409).
 */
async function replayOf(
	tx: Parameters<typeof findProjectIncludingDeleted>[0],
	id: string,
	values: NewProject,
): Promise<Project> {
	const existing = await findProjectIncludingDeleted(tx, id);
	if (!existing) throw new Error(`project ${id} conflicted on insert but cannot be read`);
	if (existing.deletedAt) {
		throw new ApiError("conflict", `The project this Idempotency-Key created (${id}) has since been deleted`);
	}
	const { deletedAt: _deletedAt, ...project } = existing;
	const same = (Object.keys(values) as (keyof NewProject)[]).every(
		(field) => values[field] === project[field],
	);
	if (same) return project;
	if (project.version === 1) {
		throw new ApiError("idempotency_key_reused", "This Idempotency-Key was used for a different request", {
			extensions: { project_id: id },
		});
	}
	throw new ApiError(
		"conflict",
		`The project this Idempotency-Key created (${id}) has been changed since; GET it instead of retrying`,
		{ extensions: { project_id: id, project: presentProject(project) } },
	);
}

/**
 * A project id derived from the caller and its Idempotency-Key (a UUIDv8 from SHA-256), so a retried create
 * collides with its first attempt in Postgres (one transaction, one primary key) instead of relying on an
 * eventually consistent store to remember the key.
 */
export async function idempotentProjectId(principal: Principal, key: string): Promise<string> {
	const material = new TextEncoder().encode(`projects\n${principal.kind}\n${principal.id}\n${key}`);
	const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", material)).slice(0, 16);
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80; // version 8: custom
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 9562 variant
	const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
