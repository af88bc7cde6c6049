import { describe, expect, it } from "vitest";
import type { HealthResponse } from "../../workers/routes/health/get-health.ts";
import { call, json, STOPPED_DATABASE } from "../support/http.ts";

describe("GET /v1/health", () => {
	it("is healthy when Postgres, KV and Durable Objects answer", async () => {
		const response = await call("/v1/health");
		const body = await json<HealthResponse>(response);
		expect(body.failing, JSON.stringify(body.checks)).toEqual([]);
		expect(response.status).toBe(200);
		expect(body.status).toBe("ok");
		expect(body.serving_region).toBe("ams");
		expect(body.version).toBe("test");
		expect(Object.values(body.checks).map((c) => c.status)).toEqual(["ok", "ok", "ok"]);
		expect(response.headers.get("cache-control")).toBe("no-store");
	});

	it("answers 503 naming postgres when the database is stopped", async () => {
		const response = await call("/v1/health", {}, STOPPED_DATABASE);
		expect(response.status).toBe(503);
		const body = await json<HealthResponse>(response);
		expect(body.status).toBe("failing");
		expect(body.failing).toEqual(["postgres"]);
		expect(body.checks.postgres.error).toBeTruthy();
		expect(body.checks.kv.status).toBe("ok");
	});
});
