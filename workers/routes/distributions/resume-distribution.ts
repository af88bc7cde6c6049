import { sagaOf } from "../../../durable-objects/distribution-saga/client.ts";
import type { App } from "../../app.ts";
import { DISTRIBUTION_ID_PATTERN } from "../../domain/fund/distribution.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { assertFundWide } from "../contributions/schema.ts";
import { DistributionIdParam, type DistributionResponse, DistributionSchema } from "./schema.ts";

export type ResumeDistributionResponse = DistributionResponse;

export const route = defineRoute({
	method: "post",
	path: "/v1/distributions/{id}/resume",
	tags: ["distributions"],
	summary: "Resume a stalled distribution",
	description:
		"A distribution stalls when a nation's ledger refuses its share for good (e.g. the share's transfer id was already used there for something else). Once that is dealt with on the ledger, this puts the refused shares back to pending and runs the saga again: each is posted with the same transfer id and idempotency key, so a share already recorded is never paid twice, and a distribution that then completes is announced once. 202 when resumed; 200, changing nothing, when the distribution is not stalled (running, finalizing or completed), so a retried call is harmless.",
	access: { permission: "distributions:write" },
	request: { params: DistributionIdParam },
	responses: {
		202: {
			description: "Resumed: the distribution, running again",
			content: { "application/json": { schema: DistributionSchema } },
		},
		200: {
			description: "Not stalled: the distribution as it is, unchanged",
			content: { "application/json": { schema: DistributionSchema } },
		},
		...problemResponses(404, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		assertFundWide(c, "distributions:write", "Resuming a distribution");
		const { id } = c.req.valid("param");
		const notFound = () => new ApiError("not_found", `Distribution ${id} was not found`);
		if (!DISTRIBUTION_ID_PATTERN.test(id)) throw notFound();
		const outcome = await sagaOf(c.env, id).resume();
		if (!outcome) throw notFound();
		c.header("cache-control", "no-store");
		if (outcome.resumed) return c.json<ResumeDistributionResponse, 202>(outcome.view, 202);
		return c.json<ResumeDistributionResponse, 200>(outcome.view, 200);
	});
