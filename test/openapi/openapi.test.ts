import validateSchema from "@apidevtools/swagger-parser/lib/validators/schema.js";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../workers/app.ts";
import { call, json } from "../support/http.ts";

interface Operation {
	parameters?: { name: string; in: string; required?: boolean }[];
	responses: Record<
		string,
		{ content?: Record<string, { schema?: { $ref?: string } }>; headers?: Record<string, unknown> }
	>;
	security?: Record<string, string[]>[];
	requestBody?: { required?: boolean; content: Record<string, unknown> };
}
interface Document {
	openapi: string;
	paths: Record<string, Record<string, Operation>>;
	components: { schemas: Record<string, unknown> };
}

/** The operations of the read API (this issue), and the problems each must document. */
const READ_PROBLEMS = ["400", "401", "403", "406", "429", "500", "503"];
const WRITE_PROBLEMS = [...READ_PROBLEMS, "409", "413", "415", "422"];
const OPERATIONS: [string, string, string[]][] = [
	["get", "/v1/nations", READ_PROBLEMS],
	["get", "/v1/nations/{code}", [...READ_PROBLEMS, "404"]],
	["patch", "/v1/nations/{code}", [...WRITE_PROBLEMS, "404", "412"]],
	["get", "/v1/sectors", READ_PROBLEMS],
	["get", "/v1/sectors/{slug}", [...READ_PROBLEMS, "404"]],
	["get", "/v1/projects", READ_PROBLEMS],
	["post", "/v1/projects", WRITE_PROBLEMS],
	["get", "/v1/projects/{id}", [...READ_PROBLEMS, "404"]],
	["patch", "/v1/projects/{id}", [...WRITE_PROBLEMS, "404", "412"]],
];

let doc: Document;

beforeAll(async () => {
	const response = await call("/openapi.json");
	expect(response.status, await response.clone().text()).toBe(200);
	doc = await json<Document>(response);
});

describe("GET /openapi.json", () => {
	it("is a valid OpenAPI 3.1 document", () => {
		expect(doc.openapi).toBe("3.1.0");
		expect(() => validateSchema(structuredClone(doc))).not.toThrow();
	});

	it("documents every route the app serves", () => {
		const app = createApp();
		const served = app.routes
			.filter((r) => r.method !== "ALL" && r.path.startsWith("/v1/"))
			.map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
		const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
			Object.keys(item).map((method) => `${method} ${path}`),
		);
		expect(served.length).toBeGreaterThan(OPERATIONS.length);
		for (const route of new Set(served)) expect(documented, route).toContain(route);
	});

	it("describes every error of the read API as problem+json, and the caching headers", () => {
		for (const [method, path, problems] of OPERATIONS) {
			const operation = doc.paths[path]?.[method];
			expect(operation, `${method} ${path}`).toBeDefined();
			if (!operation) continue;
			for (const status of problems) {
				const content = operation.responses[status]?.content;
				expect(content?.["application/problem+json"]?.schema?.$ref, `${method} ${path} ${status}`).toBe(
					"#/components/schemas/Problem",
				);
			}
			for (const [status, response] of Object.entries(operation.responses)) {
				if (Number(status) >= 400)
					expect(Object.keys(response.content ?? {}), `${path} ${status}`).toEqual([
						"application/problem+json",
					]);
			}
			const ok = operation.responses[method === "post" ? "201" : "200"];
			expect(Object.keys(ok?.headers ?? {}), `${method} ${path}`).toContain("ETag");
			if (method === "get") {
				expect(Object.keys(ok?.headers ?? {})).toEqual(
					expect.arrayContaining(["X-Cache", "Cache-Control", "Age"]),
				);
				expect(operation.responses["304"]).toBeDefined();
			} else {
				expect(operation.requestBody?.required).toBe(true);
				expect(Object.keys(ok?.headers ?? {})).toContain("consistency-token");
			}
			expect(operation.security?.length).toBeGreaterThan(0);
		}
	});

	it("declares every path parameter, and every $ref resolves", () => {
		for (const [path, item] of Object.entries(doc.paths)) {
			const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
			for (const [method, operation] of Object.entries(item)) {
				for (const name of names) {
					const parameter = operation.parameters?.find((p) => p.in === "path" && p.name === name);
					expect(parameter?.required, `${method} ${path} {${name}}`).toBe(true);
				}
			}
		}
		const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
			(m) => m[1] ?? "",
		);
		for (const ref of new Set(refs)) expect(doc.components.schemas, ref).toHaveProperty(ref);
	});

	it("refuses body fields the API does not accept, in the document too", () => {
		const schemas = doc.components.schemas as Record<string, { additionalProperties?: boolean }>;
		for (const name of ["CreateProject", "UpdateProject", "UpdateNation"]) {
			expect(schemas[name]?.additionalProperties, name).toBe(false);
		}
	});
});

describe("GET /docs", () => {
	it("serves the interactive reference page for the document", async () => {
		const response = await call("/docs", { headers: { accept: "text/html" } });
		expect(response.status).toBe(200);
		expect(response.headers.get("content-type")).toContain("text/html");
		expect(await response.text()).toContain("/openapi.json");
	});
});
