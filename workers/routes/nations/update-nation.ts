import { z } from "@hono/zod-openapi";
import type { App } from "../../app.ts";
import { assertWritableFields, type FieldRules } from "../../auth/writable-fields.ts";
import {
	commitWrite,
	ifMatchSatisfied,
	listVersion,
	strictBody,
	writeRequestHeaders,
	writeResponseHeaders,
	writtenJson,
} from "../../cache/index.ts";
import { lockNation, type NationChanges, updateNation } from "../../db/queries/nations.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { COVENANT_STATUSES, type CovenantStatus, contributionFor } from "../../domain/contribution.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { NationCodeParam, type NationResponse, NationSchema, nationEntry, presentNation } from "./schema.ts";

/** Fields of a nation no PATCH may set: reference data from the seeds, bookkeeping, and computed money. */
const READ_ONLY_FIELDS = [
	"iso2",
	"iso3",
	"m49",
	"name",
	"official_name",
	"region",
	"subregion",
	"intermediate_region",
	"serving_region",
	"capital",
	"capital_lat",
	"capital_lng",
	"lat",
	"lng",
	"population",
	"population_year",
	"contribution_rate_ppm",
	"annual_contribution_cents",
	"created_at",
	"updated_at",
	"version",
	"search",
];

/**
 * Who may set which field (no mass assignment): the covenant status only an admin; the contribution basis
 * anyone holding nations:write on this nation (its governor, `nation:KE`, or an admin).
 */
const FIELD_RULES: FieldRules = {
	covenant_status: "admin",
	gdp_cents: "nations:write",
	gdp_year: "nations:write",
};

const MAX_CENTS = Number.MAX_SAFE_INTEGER;

export const UpdateNationBody = strictBody(
	{
		covenant_status: z.enum(COVENANT_STATUSES).optional().openapi({
			description:
				"Admin only. Changing it recomputes contribution_rate_ppm and annual_contribution_cents with the covenant contribution rule",
		}),
		gdp_cents: z.number().int().min(0).max(MAX_CENTS).nullable().optional().openapi({
			description:
				"The GDP (integer USD cents) the contribution is assessed on; with gdp_year, or both null when none is published. Recomputes the contribution",
		}),
		gdp_year: z.number().int().min(1960).max(2100).nullable().optional(),
	},
	READ_ONLY_FIELDS,
)
	.refine((body) => Object.values(body).some((value) => value !== undefined), {
		message: "Send at least one of covenant_status, gdp_cents, gdp_year",
	})
	.refine((body) => (body.gdp_cents === undefined) === (body.gdp_year === undefined), {
		message: "gdp_cents and gdp_year are changed together",
		path: ["gdp_year"],
	})
	.refine((body) => (body.gdp_cents === null) === (body.gdp_year === null), {
		message: "gdp_cents and gdp_year are both null (no published GDP) or both set",
		path: ["gdp_year"],
	})
	.openapi("UpdateNation");
export type UpdateNationRequest = z.infer<typeof UpdateNationBody>;
export type UpdateNationResponse = NationResponse;

export const route = defineRoute({
	method: "patch",
	path: "/v1/nations/{code}",
	tags: ["nations"],
	summary: "Change a nation's covenant status (admin) or contribution basis (its governor or an admin)",
	description:
		"The contribution is recomputed with the covenant contribution rule whenever its inputs change. Fields the caller may not set are refused with 403 naming them; read-only and unknown fields with 400. Send If-Match with the ETag you read to avoid overwriting someone else's change (412). Sending the current values changes nothing and bumps no version.",
	access: { permission: "nations:write" },
	request: {
		params: NationCodeParam,
		headers: writeRequestHeaders,
		body: { required: true, content: { "application/json": { schema: UpdateNationBody } } },
	},
	responses: {
		200: {
			description: "The nation after the change",
			headers: writeResponseHeaders,
			content: { "application/json": { schema: NationSchema } },
		},
		...problemResponses(400, 404, 406, 409, 412, 413, 415, 422, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const code = c.req.valid("param").code.toUpperCase();
		const body = c.req.valid("json");
		const principal = c.var.principal;

		const outcome = await inTransaction(c.var.db(), async (tx) => {
			const current = await lockNation(tx, code);
			if (!current) throw new ApiError("not_found", `No nation has the code '${code}'`);
			principal.assert(
				"nations:write",
				{ nation: current.iso2, region: current.servingRegion },
				`Nation ${current.iso2}`,
			);
			assertWritableFields(principal, body, FIELD_RULES, {
				nation: current.iso2,
				region: current.servingRegion,
			});
			const before = await nationEntry(current);
			if (!ifMatchSatisfied(c.req.header("if-match"), before.etag)) {
				throw new ApiError(
					"precondition_failed",
					`Nation ${current.iso2} has changed since the ETag you sent`,
					{
						headers: { etag: before.etag },
					},
				);
			}

			const status = body.covenant_status ?? (current.covenantStatus as CovenantStatus);
			const gdpCents = body.gdp_cents !== undefined ? body.gdp_cents : current.gdpCents;
			const gdpYear = body.gdp_year !== undefined ? body.gdp_year : current.gdpYear;
			const contribution = contributionFor({
				gdp_cents: gdpCents,
				gdp_year: gdpYear,
				covenant_status: status,
			});
			const candidate: Required<NationChanges> = {
				covenantStatus: status,
				gdpCents,
				gdpYear,
				contributionRatePpm: contribution.rate_ppm,
				annualContributionCents: contribution.annual_contribution_cents,
			};
			const changes: NationChanges = {};
			for (const field of Object.keys(candidate) as (keyof NationChanges)[]) {
				if (candidate[field] !== current[field]) Object.assign(changes, { [field]: candidate[field] });
			}
			if (Object.keys(changes).length === 0)
				return { entry: before, row: current, previous: current, changed: [] };
			const row = await updateNation(tx, current.iso2, changes);
			return {
				entry: await nationEntry(row),
				row,
				previous: current,
				changed: Object.keys(changes).map(snakeCase),
			};
		});

		const { row, previous, entry, changed } = outcome;
		const ids = [row.iso2, row.iso3];
		if (changed.length === 0) {
			const version = (await listVersion(c.env, "nations")) ?? 0;
			return writtenJson<UpdateNationResponse, 200>(entry, 200, {
				resource: "nations",
				listVersion: version,
				ids,
				version: row.version,
			});
		}
		const token = await commitWrite(c.env, { resource: "nations", ids, entry });
		await c.var.events
			.publish({
				// Derived from the nation and its new version: consumers deduplicate a re-sent event on it.
				id: `nation:${row.iso2}:v${row.version}`,
				type: "covenant.countries.updated",
				subject: `nations/${row.iso2}`,
				actor: principal.id,
				data: {
					nation: row.iso2,
					version: row.version,
					changed,
					before: presentNation(previous),
					after: presentNation(row),
				},
			})
			.catch((error: unknown) => {
				// The producer parks what the queues refuse; if even that failed, the change is still committed,
				// so the loss is logged loudly rather than turned into an error for a write that happened.
				console.error(
					JSON.stringify({
						msg: "event not published",
						type: "covenant.countries.updated",
						nation: row.iso2,
						error: String(error),
					}),
				);
			});
		return writtenJson<UpdateNationResponse, 200>(entry, 200, token);
	});

function snakeCase(field: string): string {
	return field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
