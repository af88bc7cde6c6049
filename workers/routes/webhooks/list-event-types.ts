import { z } from "@hono/zod-openapi";
import type { App } from "../../app.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { SUBSCRIBABLE_TYPES, TEST_EVENT_TYPE } from "../../webhooks/filters.ts";

/** What each partner-facing event means, for the catalogue partners subscribe from. */
const DESCRIPTIONS: Record<string, string> = {
	"covenant.countries.updated": "A nation's reference data changed (covenant status, contribution, GDP...)",
	"covenant.projects.created": "A project was created",
	"covenant.projects.updated": "A project changed (status, funding, details)",
	"covenant.payments.recorded": "A transfer was posted to a nation's ledger",
	"covenant.payments.distributed": "A project's profit was distributed to the nations",
	"webhooks.endpoint.disabled":
		"One of your endpoints was disabled (410 Gone, or 5 days of failed deliveries)",
};

function describe(type: string): string {
	const sector = /^covenant\.sectors\.([a-z]+)\.updated$/.exec(type)?.[1];
	if (sector) return `The ${sector} sector's reference data changed`;
	return DESCRIPTIONS[type] ?? type;
}

export const EventTypeListSchema = z
	.object({
		data: z.array(z.object({ type: z.string(), description: z.string() })),
		test_type: z.string().openapi({ description: "The type of the messages POST .../test sends" }),
	})
	.openapi("WebhookEventTypes");
export type EventTypeListResponse = z.infer<typeof EventTypeListSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/webhooks/event-types",
	tags: ["webhooks"],
	summary: "The event types an endpoint can subscribe to",
	description:
		"Filters take these exact types, prefixes ending in `.*` (e.g. `covenant.payments.*`) or `*`. Internal events (audit, sign-ins, push requests, alerts) are never sent to partners.",
	access: { permission: "webhooks:read" },
	responses: {
		200: { description: "The catalogue", content: { "application/json": { schema: EventTypeListSchema } } },
		...problemResponses(406),
	},
});

export const register = (app: App) =>
	app.openapi(route, (c) => {
		const body: EventTypeListResponse = {
			data: SUBSCRIBABLE_TYPES.map((type) => ({ type, description: describe(type) })),
			test_type: TEST_EVENT_TYPE,
		};
		return c.json(body, 200, { "cache-control": "private, max-age=300" });
	});
