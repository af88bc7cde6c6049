import { afterAll, describe, expect, it } from "vitest";
import type { Problem } from "../../workers/lib/problem.ts";
import { urlPolicy } from "../../workers/webhooks/delivery.ts";
import { call, json } from "../support/http.ts";
import { createEndpoint, deleteTestEndpoints, partner, sinkUrl } from "./support.ts";

const HOOK = sinkUrl();
const PRODUCTION_URL_RULES = { WEBHOOKS_ALLOW_LOCALHOST: "false" } as Partial<Env>;

async function create(body: unknown, envOverrides: Partial<Env> = {}) {
	const p = await partner();
	const response = await call(
		"/v1/webhooks/endpoints",
		{ method: "POST", headers: p.headers, json: body },
		envOverrides,
	);
	return { status: response.status, problem: await json<Problem>(response) };
}

afterAll(deleteTestEndpoints);

describe("webhook endpoints: refusals", () => {
	it.each([
		["http://hooks.partner-bank.com/x", /https/],
		["https://127.0.0.1/x", /loopback/],
		["https://169.254.169.254/latest/meta-data", /link-local/],
		["https://[::ffff:10.0.0.1]/x", /private/],
		["https://10.0.0.8/x", /private/],
		["https://100.64.1.1/x", /carrier-grade NAT/],
		["https://metadata.google.internal/x", /metadata/],
		["https://hooks.partner-bank.com:8443/x", /port/],
		["https://admin:secret@hooks.partner-bank.com/x", /credentials/],
		["http://localhost:8080/x", /https/],
	])("refuses the URL %s with a 422 naming the reason", async (url, reason) => {
		const { status, problem } = await create({ url }, PRODUCTION_URL_RULES);
		expect(status).toBe(422);
		expect(problem.code).toBe("unprocessable");
		expect(problem.detail).toMatch(reason);
		expect(problem.errors?.[0]).toMatchObject({ path: ["url"], code: "url_refused" });
	});

	it("accepts http://localhost only with the development setting", async () => {
		expect((await create({ url: "http://localhost:4000/hook" })).status).toBe(201);
		expect((await create({ url: "http://localhost:4000/hook" }, PRODUCTION_URL_RULES)).status).toBe(422);
		// Production ignores the setting even when it is left on.
		expect(urlPolicy({ ENVIRONMENT: "production", WEBHOOKS_ALLOW_LOCALHOST: "true" }).allowLocalhost).toBe(
			false,
		);
		expect(urlPolicy({ ENVIRONMENT: "development", WEBHOOKS_ALLOW_LOCALHOST: "true" }).allowLocalhost).toBe(
			true,
		);
	});

	it("refuses a URL turned private by a PATCH", async () => {
		const p = await partner();
		const endpoint = await createEndpoint(p, { url: HOOK });
		const response = await call(`/v1/webhooks/endpoints/${endpoint.id}`, {
			method: "PATCH",
			headers: p.headers,
			json: { url: "https://192.168.0.10/hook" },
		});
		expect(response.status).toBe(422);
	});

	it("lists each unknown event type", async () => {
		const { status, problem } = await create({
			url: HOOK,
			event_types: [
				"covenant.projects.created",
				"covenant.nope",
				"users.authenticated",
				"alerts.*",
				"BAD TYPE",
			],
		});
		expect(status).toBe(400);
		expect(problem.errors?.map((e) => e.path)).toEqual([
			["event_types", 1],
			["event_types", 2],
			["event_types", 3],
			["event_types", 4],
		]);
	});

	it("refuses unknown and read-only fields, an empty change and malformed values", async () => {
		const unknown = await create({ url: HOOK, colour: "blue" });
		expect(unknown.status).toBe(400);
		expect(unknown.problem.errors?.[0]?.message).toMatch(/colour \(unknown field\)/);
		const readOnly = await create({ url: HOOK, secret: "whsec_mine" });
		expect(readOnly.status).toBe(400);
		expect(readOnly.problem.errors?.[0]?.message).toMatch(/secret \(read-only\)/);
		expect((await create({ url: HOOK, scope: { sectors: ["shipping"] } })).status).toBe(400);
		expect((await create({ url: HOOK, event_types: [] })).status).toBe(400);
		expect((await create({})).status).toBe(400);

		const p = await partner();
		const endpoint = await createEndpoint(p, { url: HOOK });
		const empty = await call(`/v1/webhooks/endpoints/${endpoint.id}`, {
			method: "PATCH",
			headers: p.headers,
			json: {},
		});
		expect(empty.status).toBe(400);
		const badGrace = await call(`/v1/webhooks/endpoints/${endpoint.id}/rotate-secret`, {
			method: "POST",
			headers: p.headers,
			json: { grace_period_seconds: 30 * 24 * 3600 },
		});
		expect(badGrace.status).toBe(400);
		const notUuid = await call("/v1/webhooks/endpoints/not-a-uuid", { headers: p.headers });
		expect(notUuid.status).toBe(400);
	});

	it("refuses a scope filter naming a nation that does not exist", async () => {
		const { status, problem } = await create({ url: HOOK, scope: { nations: ["KE", "XX"] } });
		expect(status).toBe(422);
		expect(problem.detail).toMatch(/XX/);
	});

	it("refuses a recovery window in the future, and recovering a disabled endpoint", async () => {
		const p = await partner();
		const endpoint = await createEndpoint(p, { url: HOOK, enabled: false });
		const path = `/v1/webhooks/endpoints/${endpoint.id}/recover`;
		const future = await call(path, {
			method: "POST",
			headers: p.headers,
			json: { since: new Date(Date.now() + 3_600_000).toISOString() },
		});
		expect(future.status).toBe(400);
		const disabled = await call(path, {
			method: "POST",
			headers: p.headers,
			json: { since: new Date(Date.now() - 3_600_000).toISOString() },
		});
		expect(disabled.status).toBe(409);
		expect((await json<Problem>(disabled)).detail).toMatch(/enable it/);
	});

	it("answers 404 for a message that does not exist", async () => {
		const p = await partner();
		const response = await call(`/v1/webhooks/messages/${crypto.randomUUID()}/retry`, {
			method: "POST",
			headers: p.headers,
		});
		expect(response.status).toBe(404);
	});
});
