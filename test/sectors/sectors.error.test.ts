import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { bumpListVersion } from "../../workers/cache/index.ts";
import type { Problem } from "../../workers/lib/problem.ts";
import { bearer, uniqueSub } from "../support/auth.ts";
import { call, json, STOPPED_DATABASE } from "../support/http.ts";

let reader: Record<string, string>;

beforeAll(async () => {
	reader = await bearer("viewer", uniqueSub("sectors-error"));
});

async function expectProblem(response: Response, status: number, code: string): Promise<Problem> {
	expect(response.status, await response.clone().text()).toBe(status);
	expect(response.headers.get("content-type")).toBe("application/problem+json");
	const problem = await json<Problem>(response);
	expect(problem).toMatchObject({ status, code });
	return problem;
}

describe("sectors: errors", () => {
	it("answers 401 without a token", async () => {
		await expectProblem(await call("/v1/sectors"), 401, "unauthorized");
		await expectProblem(await call("/v1/sectors/energy"), 401, "unauthorized");
	});

	it("answers 404 for an unknown sector and 400 for a malformed slug or an unknown parameter", async () => {
		const missing = await expectProblem(
			await call("/v1/sectors/fishing", { headers: reader }),
			404,
			"not_found",
		);
		expect(missing.detail).toContain("fishing");
		await expectProblem(await call("/v1/sectors/en3rgy", { headers: reader }), 400, "invalid_request");
		await expectProblem(await call("/v1/sectors?limit=2", { headers: reader }), 400, "invalid_request");
	});

	it("answers 405 with Allow for writes, which this API does not offer on sectors", async () => {
		const post = await call("/v1/sectors", { method: "POST", headers: reader, json: { slug: "fishing" } });
		await expectProblem(post, 405, "method_not_allowed");
		expect(post.headers.get("allow")).toBe("GET");
		const patch = await call("/v1/sectors/energy", {
			method: "PATCH",
			headers: reader,
			json: { name: "Power" },
		});
		expect(patch.headers.get("allow")).toBe("GET");
	});

	it("answers 503 problem+json for an uncached sector while Postgres is stopped", async () => {
		// A new sectors list version makes every cached sector page unreachable, as a write would.
		await bumpListVersion(env, "sectors");
		const response = await call("/v1/sectors/tech", { headers: reader }, STOPPED_DATABASE);
		await expectProblem(response, 503, "unavailable");
		expect(response.headers.get("retry-after")).toBeTruthy();
		expect((await call("/v1/sectors/tech", { headers: reader })).headers.get("x-cache")).toBe("MISS");
	});
});
