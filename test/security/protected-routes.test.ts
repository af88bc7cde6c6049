import { beforeAll, describe, expect, it } from "vitest";
import { tokenFor, uniqueSub } from "../support/auth.ts";
import { call } from "../support/http.ts";
import {
	BAD_CREDENTIALS,
	type Fixtures,
	insufficientCredentials,
	makeFixtures,
	sideEffectTrap,
} from "./credentials.ts";
import { loadDocument, type Operation, operationsOf } from "./openapi.ts";

/**
 * The shared security suite: every protected operation in the worker's own OpenAPI document, whoever wrote
 * it, is called with every kind of bad credential and with valid credentials that lack its permission. Each
 * must answer 401/403 problem+json, with no side effect (Postgres unreachable, queues, KV writes and Durable
 * Objects trapped). A positive control proves each route accepts a sufficient credential, so a route that
 * refused everyone (or the suite itself) could not pass unnoticed.
 */

/** Operations deliberately open to anonymous callers; anything else under /v1 must be protected. */
const PUBLIC_OPERATIONS = new Set(["GET /v1/health"]);

const document = await loadDocument();
const operations = operationsOf(document);
const protectedOperations = operations.filter((op) => op.security !== undefined);

let fixtures: Fixtures;
beforeAll(async () => {
	fixtures = await makeFixtures();
});

function request(op: Operation, headers: Record<string, string>, envOverrides: Partial<Env> = {}) {
	const init: RequestInit & { json?: unknown } = { method: op.method, headers };
	if (op.hasBody) init.json = {};
	return call(op.url, init, envOverrides);
}

async function expectRefused(response: Response, status: 401 | 403, touched: string[]) {
	const text = await response.text();
	expect(response.status, text.slice(0, 300)).toBe(status);
	expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
	const problem = JSON.parse(text) as { status: number; code: string };
	expect(problem.status).toBe(status);
	expect(problem.code).toBe(status === 401 ? "unauthorized" : "forbidden");
	if (status === 401) expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
	expect(touched, "side effects of a refused request").toEqual([]);
}

describe("the OpenAPI document", () => {
	it("lists the routes the suite covers", () => {
		expect(protectedOperations.length).toBeGreaterThanOrEqual(11);
		expect(protectedOperations.map((op) => `${op.method} ${op.template}`)).toEqual(
			expect.arrayContaining([
				"POST /v1/api-keys",
				"GET /v1/me",
				"POST /v1/admin/revocations",
				"GET /v1/users",
			]),
		);
	});

	it("leaves nothing under /v1 open except the deliberately public operations", () => {
		const open = operations
			.filter((op) => op.security === undefined && op.template.startsWith("/v1/"))
			.map((op) => `${op.method} ${op.template}`);
		expect(open.filter((name) => !PUBLIC_OPERATIONS.has(name))).toEqual([]);
	});

	it("marks personal fields as such (x-personal-data), for erasure and residency work", () => {
		const personal = (schema: string) =>
			Object.entries(document.components?.schemas?.[schema]?.properties ?? {})
				.filter(([, property]) => property["x-personal-data"] === true)
				.map(([name]) => name)
				.sort();
		expect(personal("User")).toEqual(
			["display_name", "email", "last_authenticated_at", "locale", "name", "preferences", "sub"].sort(),
		);
		expect(personal("ApiKey")).toEqual(["created_by", "owner"]);
		expect(personal("Revocation")).toEqual(["created_by", "value"]);
	});

	it.each(protectedOperations.map((op) => [`${op.method} ${op.template}`, op] as const))(
		"%s declares its security, permission, cost and auth errors",
		(_name, op) => {
			expect(op.permission).toMatch(/^[a-z_]+:(read|write)$/);
			expect(op.security).toEqual([{ bearerAuth: [op.permission] }, { apiKeyAuth: [op.permission] }]);
			expect(op.cost).toBeGreaterThanOrEqual(1);
			for (const status of ["401", "403", "429"]) expect(Object.keys(op.responses)).toContain(status);
		},
	);
});

describe.each(protectedOperations.map((op) => [`${op.method} ${op.template}`, op] as const))(
	"%s",
	(_name, op) => {
		it.each(BAD_CREDENTIALS.map((bad) => [bad.name, bad] as const))(
			"refuses %s with 401",
			async (_case, bad) => {
				const trap = sideEffectTrap();
				const response = await request(op, await bad.headers(fixtures), trap.overrides);
				await expectRefused(response, 401, trap.touched);
			},
		);

		it("refuses valid credentials without its permission with 403", async () => {
			const weak = await insufficientCredentials(op.permission as string, fixtures);
			// nations:read and sectors:read are every principal's: no valid credential lacks them.
			if (weak.length === 0) expect(["nations:read", "sectors:read"]).toContain(op.permission);
			for (const { name, headers } of weak) {
				const trap = sideEffectTrap();
				const response = await request(op, headers, trap.overrides);
				await expectRefused(response, 403, trap.touched).catch((error: Error) => {
					throw new Error(`${name}: ${error.message}`);
				});
			}
		});

		it("lets a sufficient credential past authentication and the permission check", async () => {
			const headers = {
				authorization: `Bearer ${await tokenFor("admin", { sub: uniqueSub("security-control") })}`,
			};
			const init: RequestInit = { method: op.method, headers };
			if (op.hasBody) {
				// Malformed JSON: refused by validation, after the access checks, before any handler could write.
				init.body = "{";
				(init.headers as Record<string, string>)["content-type"] = "application/json";
			}
			const response = await call(op.url, init);
			const body = await response.text();
			expect(response.status, body.slice(0, 300)).not.toBe(401);
			if (response.status === 403) expect(JSON.parse(body).required_permission).toBeUndefined();
		});
	},
);
