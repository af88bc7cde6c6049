import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { itemKey, listVersion } from "../../workers/cache/index.ts";
import { makeEvent, messageId, query, runBatch } from "./support.ts";

describe("cache consumer", () => {
	it("drops the items an event changed (a nation under both codes) and bumps their list versions", async () => {
		const projectId = crypto.randomUUID();
		const keys = [
			itemKey("projects", projectId),
			itemKey("nations", "GH"),
			itemKey("nations", "GHA"),
			itemKey("sectors", "health"),
		];
		for (const key of keys) await env.CACHE.put(key, "stale");
		const before = {
			projects: (await listVersion(env, "projects")) ?? 0,
			nations: (await listVersion(env, "nations")) ?? 0,
			sectors: (await listVersion(env, "sectors")) ?? 0,
		};
		const events = [
			makeEvent({ type: "covenant.projects.updated", data: { project_id: projectId } }),
			makeEvent({ type: "covenant.countries.updated", data: { nation: "GH" } }),
			makeEvent({ type: "covenant.sectors.health.updated", data: {} }),
		];
		const result = await runBatch(
			"cache",
			events.map((body) => ({ body })),
		);
		expect(result.explicitAcks).toHaveLength(3);
		for (const key of keys) expect(await env.CACHE.get(key), key).toBeNull();
		expect(await listVersion(env, "projects")).toBeGreaterThan(before.projects);
		expect(await listVersion(env, "nations")).toBeGreaterThan(before.nations);
		expect(await listVersion(env, "sectors")).toBeGreaterThan(before.sectors);
	});

	it("retries, without recording the event as processed, when KV fails; the redelivery then does the work", async () => {
		const projectId = crypto.randomUUID();
		const key = itemKey("projects", projectId);
		await env.CACHE.put(key, "stale");
		const event = makeEvent({ type: "covenant.projects.created", data: { project_id: projectId } });
		const brokenKv = {
			...env.CACHE,
			get: env.CACHE.get.bind(env.CACHE),
			put: env.CACHE.put.bind(env.CACHE),
			delete: async () => {
				throw new Error("KV unavailable");
			},
		} as unknown as KVNamespace;
		const failed = await runBatch("cache", [{ body: event }], undefined, { CACHE: brokenKv });
		expect(failed.retryMessages).toHaveLength(1);
		expect(
			await query(sql`select 1 from processed_events where consumer = 'cache' and event_id = ${event.id}`),
		).toEqual([]);
		expect(await env.CACHE.get(key)).toBe("stale");

		const retried = await runBatch("cache", [{ body: event, id: messageId(), attempts: 2 }]);
		expect(retried.explicitAcks).toHaveLength(1);
		expect(await env.CACHE.get(key)).toBeNull();
	});
});
