import { z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import type { App } from "../../app.ts";
import { users } from "../../db/schema/users.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { presentUser, type UserResponse, UserSchema } from "../me/schema.ts";

export type GetUserResponse = UserResponse;

export const UserIdParam = z.object({
	id: z
		.string()
		.uuid()
		.openapi({ param: { name: "id", in: "path" }, example: "0b7f3c1e-5a52-4d0e-9d0b-6f3f1f0d9a11" }),
});

export const route = defineRoute({
	method: "get",
	path: "/v1/users/{id}",
	tags: ["users"],
	summary: "One person's record (admin)",
	access: { permission: "users:read" },
	request: { params: UserIdParam },
	responses: {
		200: { description: "The person", content: { "application/json": { schema: UserSchema } } },
		...problemResponses(400, 404, 406),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		const [row] = await c.var.db().select().from(users).where(eq(users.id, id));
		// Regional visibility: someone else's region answers 404, like a missing record.
		if (!row || !c.var.principal.can("users:read", { region: row.homeRegion })) {
			throw new ApiError("not_found", `No user '${id}'`);
		}
		return c.json(presentUser(row), 200, { "cache-control": "no-store" });
	});
