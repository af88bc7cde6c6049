import { eq } from "drizzle-orm";
import { sagaOf } from "../../../durable-objects/distribution-saga/client.ts";
import type { App } from "../../app.ts";
import { distributions } from "../../db/schema/distributions.ts";
import { DISTRIBUTION_ID_PATTERN } from "../../domain/fund/distribution.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import {
	assertCanSee,
	DistributionIdParam,
	type DistributionResponse,
	DistributionSchema,
} from "./schema.ts";

export type GetDistributionResponse = DistributionResponse;

export const route = defineRoute({
	method: "get",
	path: "/v1/distributions/{id}",
	tags: ["distributions"],
	summary: "A distribution's plan and its saga's progress",
	description:
		"Read from the distribution's saga (strongly consistent): every nation's weight, share and whether the share is posted (with its ledger sequence and entry hash). Visible to fund-wide readers and to principals whose scope covers the project or one of the nations paid.",
	access: { permission: "distributions:read" },
	request: { params: DistributionIdParam },
	responses: {
		200: { description: "The distribution", content: { "application/json": { schema: DistributionSchema } } },
		...problemResponses(404, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		const notFound = () => new ApiError("not_found", `Distribution ${id} was not found`);
		if (!DISTRIBUTION_ID_PATTERN.test(id)) throw notFound();
		const saga = sagaOf(c.env, id);
		let view = await saga.view();
		if (!view) {
			// Planned in Postgres but the saga never received its plan (the creating request failed half-way): start it.
			const planned = await c.var.db().query.distributions.findFirst({ where: eq(distributions.id, id) });
			if (!planned) throw notFound();
			view = await saga.start(planned.plan);
		}
		assertCanSee(c, view);
		c.header("cache-control", "no-store");
		return c.json<GetDistributionResponse, 200>(view, 200);
	});
