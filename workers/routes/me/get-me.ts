import type { App } from "../../app.ts";
import { ensureUser } from "../../auth/provisioning.ts";
import { etagMatches } from "../../cache/index.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { presentUser, type UserResponse, UserSchema, userEtag } from "./schema.ts";

export type GetMeResponse = UserResponse;

export const route = defineRoute({
	method: "get",
	path: "/v1/me",
	tags: ["me"],
	summary: "The signed-in person's own record (created on first sight from the token)",
	description:
		"Any person's token may call it (`profile:read` is part of every person's baseline); API keys have no profile (403). Sends an ETag; If-None-Match answers 304.",
	access: { permission: "profile:read" },
	responses: {
		200: {
			description: "Your user record",
			headers: { ETag: { description: "Send it in If-Match when you PATCH", schema: { type: "string" } } },
			content: { "application/json": { schema: UserSchema } },
		},
		304: { description: "Not modified: If-None-Match names the current ETag" },
		...problemResponses(406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const user = await ensureUser(c, c.var.principal);
		const etag = userEtag(user);
		c.header("etag", etag);
		c.header("cache-control", "private, no-cache");
		if (etagMatches(c.req.header("if-none-match"), etag)) return c.body(null, 304);
		return c.json(presentUser(user), 200);
	});
