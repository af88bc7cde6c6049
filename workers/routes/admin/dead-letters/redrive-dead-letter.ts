import { z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import type { App } from "../../../app.ts";
import { deadLetters } from "../../../db/schema/dead-letters.ts";
import { ApiError, problemResponses } from "../../../lib/problem.ts";
import { defineRoute } from "../../../lib/route.ts";
import { DeadLetterSchema, presentDeadLetter, redrive } from "./schema.ts";

export const DeadLetterParams = z.object({
	id: z
		.string()
		.uuid()
		.openapi({ param: { name: "id", in: "path" } }),
});

export const route = defineRoute({
	method: "post",
	path: "/v1/admin/dead-letters/{id}/redrive",
	tags: ["admin"],
	summary: "Send a dead-lettered event back to its consumer's queue",
	description:
		"For after the cause is fixed (an outage, a consumer bug). Safe to repeat: the consumer applies an event once, so re-driving one that was meanwhile applied changes nothing. A body that is not a valid event is refused (422): it would only fail again.",
	access: { permission: "admin:write" },
	request: { params: DeadLetterParams },
	responses: {
		202: {
			description: "Sent back to the queue; the record shows the re-drive",
			content: { "application/json": { schema: DeadLetterSchema } },
		},
		...problemResponses(400, 404, 406, 409, 422, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { id } = c.req.valid("param");
		const db = c.var.db();
		const [row] = await db.select().from(deadLetters).where(eq(deadLetters.id, id));
		if (!row) throw new ApiError("not_found", `No dead letter ${id}`);
		const { redriven, refused, busy } = await redrive(c.env, db, [row.id]);
		if (busy.length > 0)
			throw new ApiError("conflict", "Another request is re-driving this dead letter right now");
		const done = redriven[0];
		if (!done)
			throw new ApiError("unprocessable", refused[0]?.reason ?? "The dead letter cannot be re-driven");
		return c.json(presentDeadLetter(done), 202);
	});
