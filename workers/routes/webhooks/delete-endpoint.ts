import { eq } from "drizzle-orm";
import type { App } from "../../app.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { webhookEndpoints } from "../../db/schema/webhooks.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { EndpointIdParam, findEndpoint } from "./schema.ts";

export const route = defineRoute({
	method: "delete",
	path: "/v1/webhooks/endpoints/{id}",
	tags: ["webhooks"],
	summary: "Delete a webhook endpoint, its messages and its delivery history",
	description:
		"Deliveries in flight are dropped (nothing more is sent). Deleting again answers 404. To pause deliveries instead, PATCH `enabled: false`.",
	access: { permission: "webhooks:write" },
	request: { params: EndpointIdParam },
	responses: {
		204: { description: "Deleted" },
		...problemResponses(400, 404, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		await inTransaction(c.var.db(), async (tx) => {
			await findEndpoint(tx, c.var.principal, id, { lock: true });
			// Messages and attempts go with it (foreign keys cascade).
			await tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
		});
		return c.body(null, 204);
	});
