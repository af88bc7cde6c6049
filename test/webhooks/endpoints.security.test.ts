import { afterAll, describe, expect, it } from "vitest";
import type { Problem } from "../../workers/lib/problem.ts";
import type { EndpointPageResponse } from "../../workers/routes/webhooks/list-endpoints.ts";
import type { EndpointResponse } from "../../workers/routes/webhooks/schema.ts";
import { call, json } from "../support/http.ts";
import { createEndpoint, db, deleteTestEndpoints, partner, sinkUrl } from "./support.ts";
import { webhookEndpoints } from "../../workers/db/schema/webhooks.ts";
import { eq } from "drizzle-orm";

const HOOK = sinkUrl();

/** Every webhooks operation, as [method, path, body] for an endpoint id and a message id. */
const operations = (endpointId: string, messageId = crypto.randomUUID()) =>
	[
		["GET", "/v1/webhooks/event-types", undefined],
		["GET", "/v1/webhooks/endpoints", undefined],
		["POST", "/v1/webhooks/endpoints", { url: HOOK }],
		["GET", `/v1/webhooks/endpoints/${endpointId}`, undefined],
		["PATCH", `/v1/webhooks/endpoints/${endpointId}`, { description: "x" }],
		["DELETE", `/v1/webhooks/endpoints/${endpointId}`, undefined],
		["POST", `/v1/webhooks/endpoints/${endpointId}/rotate-secret`, {}],
		["POST", `/v1/webhooks/endpoints/${endpointId}/test`, undefined],
		["GET", `/v1/webhooks/endpoints/${endpointId}/deliveries`, undefined],
		[
			"POST",
			`/v1/webhooks/endpoints/${endpointId}/recover`,
			{ since: new Date(Date.now() - 60_000).toISOString() },
		],
		["POST", `/v1/webhooks/messages/${messageId}/retry`, undefined],
	] as const;

afterAll(deleteTestEndpoints);

describe("webhooks: authentication and permissions", () => {
	it("answers 401 to every operation without credentials, and with a bad token", async () => {
		for (const [method, path, body] of operations(crypto.randomUUID())) {
			const anonymous = await call(path, { method, json: body });
			expect(anonymous.status, `${method} ${path}`).toBe(401);
			const forged = await call(path, { method, json: body, headers: { authorization: "Bearer not.a.jwt" } });
			expect(forged.status, `${method} ${path}`).toBe(401);
		}
	});

	it.each(["viewer", "nation:KE", "sector:energy", "region:ams"])(
		"answers 403 to %s, which holds no webhooks permission",
		async (scope) => {
			const caller = await partner(scope, "no-webhooks");
			for (const [method, path, body] of operations(crypto.randomUUID())) {
				const response = await call(path, { method, json: body, headers: caller.headers });
				expect(response.status, `${method} ${path}`).toBe(403);
			}
		},
	);

	it("hides one partner's endpoints from another (404, never 403), but not from an admin", async () => {
		const owner = await partner();
		const other = await partner();
		const endpoint = await createEndpoint(owner, { url: HOOK });
		for (const [method, path, body] of operations(endpoint.id)) {
			if (!path.includes(endpoint.id)) continue;
			const response = await call(path, { method, json: body, headers: other.headers });
			expect(response.status, `${method} ${path}`).toBe(404);
		}
		const list = await json<EndpointPageResponse>(
			await call("/v1/webhooks/endpoints", { headers: other.headers }),
		);
		expect(list.data.map((e) => e.id)).not.toContain(endpoint.id);
		const snoop = await call(`/v1/webhooks/endpoints?owner=${owner.sub}`, { headers: other.headers });
		expect(snoop.status).toBe(403);

		const admin = await partner("admin", "admin");
		const seen = await call(`/v1/webhooks/endpoints/${endpoint.id}`, { headers: admin.headers });
		expect(seen.status).toBe(200);
		const byOwner = await json<EndpointPageResponse>(
			await call(`/v1/webhooks/endpoints?owner=${owner.sub}`, { headers: admin.headers }),
		);
		expect(byOwner.data.map((e) => e.id)).toEqual([endpoint.id]);
		// Still untouched by the other partner's attempts.
		expect((await json<EndpointResponse>(seen)).description).toBe("");
	});

	it("keeps the owner's scope when an admin changes a partner's endpoint (no widening by the admin)", async () => {
		const owner = await partner("partner nation:KE");
		const endpoint = await createEndpoint(owner, { url: HOOK });
		const admin = await partner("admin", "admin");
		const widened = await call(`/v1/webhooks/endpoints/${endpoint.id}`, {
			method: "PATCH",
			headers: admin.headers,
			json: { scope: { nations: ["UG"] } },
		});
		expect(widened.status).toBe(403);
		const described = await call(`/v1/webhooks/endpoints/${endpoint.id}`, {
			method: "PATCH",
			headers: admin.headers,
			json: { description: "checked by ops" },
		});
		expect(described.status).toBe(200);
		const [row] = await db((d) =>
			d.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpoint.id)),
		);
		expect(row?.ownerScope).toBe("partner nation:KE");
	});

	it("keeps a scoped partner's subscriptions within its own visibility", async () => {
		const kenya = await partner("partner nation:KE");
		const post = (scope: unknown) =>
			call("/v1/webhooks/endpoints", { method: "POST", headers: kenya.headers, json: { url: HOOK, scope } });
		const otherNation = await post({ nations: ["UG"] });
		expect(otherNation.status).toBe(403);
		expect((await json<Problem>(otherNation)).errors?.[0]).toMatchObject({
			path: ["scope"],
			code: "scope_escalation",
		});
		expect((await post({ nations: ["KE", "UG"] })).status).toBe(403);
		expect((await post({ sectors: ["energy"] })).status).toBe(403);
		expect((await post(null)).status).toBe(403);
		expect((await post({ nations: ["KE"], sectors: ["energy"] })).status).toBe(201);

		// Visibility over two kinds of constraint cannot be expressed as one default: the partner must choose.
		const twoKinds = await partner("partner nation:KE sector:energy");
		const ambiguous = await call("/v1/webhooks/endpoints", {
			method: "POST",
			headers: twoKinds.headers,
			json: { url: HOOK },
		});
		expect(ambiguous.status).toBe(422);
		expect((await json<Problem>(ambiguous)).errors?.[0]?.code).toBe("scope_required");
		const chosen = await call("/v1/webhooks/endpoints", {
			method: "POST",
			headers: twoKinds.headers,
			json: { url: HOOK, scope: { sectors: ["energy"], regions: ["jnb"] } },
		});
		expect(chosen.status).toBe(201);
	});
});
