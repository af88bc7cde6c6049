import type { App } from "../../app.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import {
	EndpointIdParam,
	type EndpointResponse,
	EndpointSchema,
	endpointEtag,
	findEndpoint,
	presentEndpoint,
} from "./schema.ts";

export type GetEndpointResponse = EndpointResponse;

export const route = defineRoute({
	method: "get",
	path: "/v1/webhooks/endpoints/{id}",
	tags: ["webhooks"],
	summary: "A webhook endpoint (never its secret)",
	description: "404 for an endpoint that does not exist or belongs to another partner.",
	access: { permission: "webhooks:read" },
	request: { params: EndpointIdParam },
	responses: {
		200: {
			description: "The endpoint",
			headers: {
				ETag: { description: "Send it as If-Match when changing the endpoint", schema: { type: "string" } },
			},
			content: { "application/json": { schema: EndpointSchema } },
		},
		...problemResponses(400, 404, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const row = await findEndpoint(c.var.db(), c.var.principal, c.req.valid("param").id);
		const body: GetEndpointResponse = presentEndpoint(row);
		return c.json(body, 200, { etag: endpointEtag(row), "cache-control": "no-store" });
	});
