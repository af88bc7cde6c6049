import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import {
	BoundedLru,
	bumpListVersion,
	type CacheEntry,
	type CacheEnv,
	canonicalQuery,
	createEntry,
	decodeConsistencyToken,
	dependentKey,
	encodeConsistencyToken,
	etagMatches,
	ifMatchSatisfied,
	invalidate,
	isDatabaseUnavailable,
	itemKey,
	listVersion,
	readDependent,
	readThrough,
	resetIsolateCache,
	writeThrough,
} from "../../workers/cache/index.ts";
import { ApiError } from "../../workers/lib/problem.ts";

/** A key of this test alone: the cache tiers are shared with every other suite in this isolate. */
const uniqueKey = () => itemKey("projects", crypto.randomUUID());

/** A loader that counts how often the cache went to "Postgres". */
function origin(value: unknown, version?: number) {
	const calls = { count: 0 };
	const load = async (): Promise<CacheEntry | null> => {
		calls.count++;
		return createEntry(value, { version });
	};
	return { calls, load };
}

const pending: Promise<unknown>[] = [];
const waitUntil = (promise: Promise<unknown>) => {
	pending.push(promise);
};
const settle = () => Promise.all(pending.splice(0));

/** A connection-refused error the way the Neon driver reports it, wrapped by Drizzle. */
function connectionRefused(): Error {
	return new Error("Failed query: select 1", { cause: new Error("connect ECONNREFUSED 127.0.0.1:1") });
}

beforeEach(() => resetIsolateCache());

describe("BoundedLru", () => {
	it("evicts the least recently used entry beyond maxEntries", () => {
		const lru = new BoundedLru<string>({ maxEntries: 2, maxBytes: 1_000 });
		lru.set("a", "A", 1);
		lru.set("b", "B", 1);
		expect(lru.get("a")).toBe("A"); // a is now the most recent
		lru.set("c", "C", 1);
		expect(lru.get("b")).toBeUndefined();
		expect(lru.get("a")).toBe("A");
		expect(lru.get("c")).toBe("C");
		expect(lru.size).toBe(2);
	});

	it("evicts until the byte bound holds, and never stores a value larger than the bound", () => {
		const lru = new BoundedLru<string>({ maxEntries: 100, maxBytes: 10 });
		lru.set("a", "A", 4);
		lru.set("b", "B", 4);
		lru.set("c", "C", 4);
		expect(lru.bytes).toBe(8);
		expect(lru.get("a")).toBeUndefined();
		expect(lru.set("huge", "H", 11)).toBe(false);
		expect(lru.get("huge")).toBeUndefined();
		lru.set("b", "B2", 2);
		expect(lru.bytes).toBe(6);
		lru.clear();
		expect([lru.size, lru.bytes]).toEqual([0, 0]);
	});
});

describe("entries, keys and tokens", () => {
	it("gives byte-identical bodies the same strong ETag, prefixed with the row version", async () => {
		const a = await createEntry({ x: 1 }, { version: 3 });
		const b = await createEntry({ x: 1 }, { version: 3 });
		const c = await createEntry({ x: 2 }, { version: 3 });
		expect(a.etag).toBe(b.etag);
		expect(a.etag).not.toBe(c.etag);
		expect(a.etag).toMatch(/^"3-[\w-]{16}"$/);
		expect((await createEntry([1])).etag).toMatch(/^"[\w-]{16}"$/);
	});

	it("compares ETags weakly for If-None-Match and strongly for If-Match", () => {
		expect(etagMatches('W/"1-a", "2-b"', '"2-b"')).toBe(true);
		expect(etagMatches('W/"2-b"', '"2-b"')).toBe(true);
		expect(etagMatches("*", '"2-b"')).toBe(true);
		expect(etagMatches('"1-a"', '"2-b"')).toBe(false);
		expect(ifMatchSatisfied(undefined, '"2-b"')).toBe(true);
		expect(ifMatchSatisfied('"2-b"', '"2-b"')).toBe(true);
		expect(ifMatchSatisfied('W/"2-b"', '"2-b"')).toBe(false);
		expect(ifMatchSatisfied('"1-a"', '"2-b"')).toBe(false);
	});

	it("builds canonical, order-independent list keys and hashes the long ones under KV's 512-byte limit", async () => {
		expect(canonicalQuery({ sector: "energy", limit: 50, q: undefined })).toBe(
			canonicalQuery({ limit: 50, sector: "energy" }),
		);
		expect(canonicalQuery({ q: "a b&c" })).toBe("q=a%20b%26c");
		const short = await dependentKey("projects", [7], "limit=50");
		expect(short).toBe("c1:list:projects:7:limit=50");
		const long = await dependentKey("projects", [7, 8], `q=${"x".repeat(600)}`);
		expect(long.length).toBeLessThan(512);
		expect(long).toMatch(/^c1:list:projects:7\.8:#/);
	});

	it("round-trips consistency tokens and refuses forged ones with a 400", () => {
		const token = { resource: "projects" as const, listVersion: 1_700_000_000_000, ids: ["a"], version: 4 };
		expect(decodeConsistencyToken(encodeConsistencyToken(token))).toEqual(token);
		expect(decodeConsistencyToken(undefined)).toBeUndefined();
		for (const forged of ["%%%", btoa("[]"), btoa(JSON.stringify({ r: "users", l: 1, i: [], v: 1 }))]) {
			expect(() => decodeConsistencyToken(forged)).toThrow(ApiError);
		}
	});

	it("tells an unreachable database from a refused query", () => {
		expect(isDatabaseUnavailable(connectionRefused())).toBe(true);
		expect(isDatabaseUnavailable(Object.assign(new Error("terminating connection"), { code: "57P01" }))).toBe(
			true,
		);
		const violation = Object.assign(new Error("violates check constraint"), { code: "23514" });
		expect(isDatabaseUnavailable(new Error("Failed query: x", { cause: violation }))).toBe(false);
		// User input quoted in Drizzle's message must not look like an outage.
		expect(isDatabaseUnavailable(new Error("Failed query: select $1\nparams: connection refused"))).toBe(
			false,
		);
	});
});

describe("readThrough", () => {
	it("goes to Postgres once, then serves the isolate, then KV", async () => {
		const key = uniqueKey();
		const { calls, load } = origin({ n: 1 }, 1);
		expect((await readThrough(env, { key, load, waitUntil }))?.status).toBe("MISS");
		await settle();
		expect((await readThrough(env, { key, load, waitUntil }))?.status).toBe("HIT");
		resetIsolateCache();
		const fromKv = await readThrough(env, { key, load, waitUntil });
		expect(fromKv?.status).toBe("HIT");
		expect(fromKv?.entry.body).toBe('{"n":1}');
		expect(calls.count).toBe(1);
	});

	it("caches nothing for a row that does not exist, and drops a cached entry for a row that vanished", async () => {
		const key = uniqueKey();
		await writeThrough(env, key, await createEntry({ n: 1 }, { version: 1 }));
		const gone = async () => null;
		expect(await readThrough(env, { key, load: gone, waitUntil, minVersion: 2 })).toBeNull();
		await settle();
		expect(await env.CACHE.get(key)).toBeNull();
	});

	it("skips entries older than a consistency token's version", async () => {
		const key = uniqueKey();
		await writeThrough(env, key, await createEntry({ n: 1 }, { version: 1 }));
		const { calls, load } = origin({ n: 2 }, 2);
		expect((await readThrough(env, { key, load, waitUntil, minVersion: 1 }))?.status).toBe("HIT");
		const fresh = await readThrough(env, { key, load, waitUntil, minVersion: 2 });
		expect(fresh?.status).toBe("MISS");
		expect(fresh?.entry.body).toBe('{"n":2}');
		expect(calls.count).toBe(1);
	});

	it("serves STALE only when Postgres is unreachable, and propagates any other error", async () => {
		const key = uniqueKey();
		await writeThrough(env, key, await createEntry({ n: 1 }, { version: 1 }));
		const expired: CacheEnv = {
			...env,
			CACHE_FRESH_SECONDS: "0",
			DATABASE_URL: `postgres://x/${crypto.randomUUID()}`,
		};
		const down = async (): Promise<CacheEntry> => {
			throw connectionRefused();
		};
		const stale = await readThrough(expired, { key, load: down, waitUntil });
		expect(stale?.status).toBe("STALE");
		expect(stale?.entry.body).toBe('{"n":1}');

		const broken = async (): Promise<CacheEntry> => {
			throw Object.assign(new Error("column does not exist"), { code: "42703" });
		};
		const otherEnv: CacheEnv = { ...expired, DATABASE_URL: `postgres://y/${crypto.randomUUID()}` };
		await expect(readThrough(otherEnv, { key, load: broken, waitUntil })).rejects.toThrow(
			"column does not exist",
		);

		await expect(readThrough(otherEnv, { key: uniqueKey(), load: down, waitUntil })).rejects.toMatchObject({
			code: "unavailable",
		});
	});

	it("falls back to Postgres when KV fails, without failing the read", async () => {
		const failingKv = {
			getWithMetadata: async () => {
				throw new Error("KV is down");
			},
			get: async () => {
				throw new Error("KV is down");
			},
			put: async () => {
				throw new Error("KV is down");
			},
		} as unknown as KVNamespace;
		const brokenEnv: CacheEnv = { ...env, CACHE: failingKv };
		const { calls, load } = origin({ n: 1 }, 1);
		const read = await readThrough(brokenEnv, { key: uniqueKey(), load, waitUntil });
		expect(read?.status).toBe("MISS");
		await settle();
		expect(calls.count).toBe(1);
	});
});

describe("write-through and versions", () => {
	it("never replaces a newer version with an older one, in the isolate or in KV", async () => {
		const key = uniqueKey();
		await writeThrough(env, key, await createEntry({ v: 3 }, { version: 3 }));
		await writeThrough(env, key, await createEntry({ v: 2 }, { version: 2 }));
		expect(await env.CACHE.get(key)).toBe('{"v":3}');
		const { load } = origin({ v: 1 }, 1);
		expect((await readThrough(env, { key, load, waitUntil }))?.entry.body).toBe('{"v":3}');
		resetIsolateCache();
		expect((await readThrough(env, { key, load, waitUntil }))?.entry.body).toBe('{"v":3}');
	});

	it("invalidate drops an item from the isolate and KV", async () => {
		const key = uniqueKey();
		await writeThrough(env, key, await createEntry({ n: 1 }, { version: 1 }));
		await invalidate(env, key);
		expect(await env.CACHE.get(key)).toBeNull();
		const { calls, load } = origin({ n: 1 }, 1);
		expect((await readThrough(env, { key, load, waitUntil }))?.status).toBe("MISS");
		expect(calls.count).toBe(1);
	});

	it("bumping a list version moves every dependent page to a new key", async () => {
		const query = `test=${crypto.randomUUID()}`;
		const { calls, load } = origin({ page: 1 });
		const read = () =>
			readDependent(env, { resource: "sectors", dependsOn: ["sectors"], query, load, waitUntil });
		expect((await read())?.status).toBe("MISS");
		expect((await read())?.status).toBe("HIT");
		const before = await listVersion(env, "sectors");
		const after = await bumpListVersion(env, "sectors");
		expect(after).toBeGreaterThan(before ?? 0);
		expect((await read())?.status).toBe("MISS");
		expect(calls.count).toBe(2);
		// A version this location has not seen yet (a write elsewhere): read Postgres, cache nothing.
		const ahead = () =>
			readDependent(env, {
				resource: "sectors",
				dependsOn: ["sectors"],
				minVersions: [after + 60_000],
				query,
				load,
				waitUntil,
			});
		expect((await ahead())?.status).toBe("MISS");
		expect((await ahead())?.status).toBe("MISS");
		expect(calls.count).toBe(4);
	});
});

describe("stampede protection", () => {
	it("shares one Postgres read among concurrent misses of the same key", async () => {
		const key = uniqueKey();
		let release: () => void = () => {};
		const gate = new Promise<void>((resolve) => {
			release = resolve;
		});
		const calls = { count: 0 };
		const load = async () => {
			calls.count++;
			await gate;
			return createEntry({ n: 1 }, { version: 1 });
		};
		const reads = Array.from({ length: 5 }, () => readThrough(env, { key, load, waitUntil }));
		// Postgres "answers" once every reader has got past the isolate and KV and is waiting for it.
		await new Promise((resolve) => setTimeout(resolve, 100));
		release();
		const results = await Promise.all(reads);
		expect(calls.count).toBe(1);
		expect(results.map((r) => r?.status)).toEqual(["MISS", "MISS", "MISS", "MISS", "MISS"]);
		expect(new Set(results.map((r) => r?.entry.etag)).size).toBe(1);
		// A read that needs a newer version than the shared one does its own read.
		const own = await readThrough(env, { key: uniqueKey(), load, waitUntil, minVersion: 1 });
		expect(own?.status).toBe("MISS");
		expect(calls.count).toBe(2);
	});

	it("answers waiting reads as the shared read found Postgres: down means 503 for all, one attempt", async () => {
		const downEnv: CacheEnv = { ...env, DATABASE_URL: `postgres://down/${crypto.randomUUID()}` };
		const key = uniqueKey();
		const calls = { count: 0 };
		const load = async (): Promise<CacheEntry | null> => {
			calls.count++;
			await new Promise((resolve) => setTimeout(resolve, 50));
			throw connectionRefused();
		};
		const reads = Array.from({ length: 4 }, () =>
			readThrough(downEnv, { key, load, waitUntil }).then(
				() => "answered",
				(error: unknown) => (error instanceof ApiError ? error.status : "other error"),
			),
		);
		expect(await Promise.all(reads)).toEqual([503, 503, 503, 503]);
		expect(calls.count).toBe(1);
	});

	it("does not wait on a read that outlasts the join window (a slow or cancelled request's)", async () => {
		const key = uniqueKey();
		let calls = 0;
		const load = async (): Promise<CacheEntry | null> => {
			calls++;
			// The first read never answers, as when its request was cancelled mid-read.
			if (calls === 1) await new Promise(() => {});
			return createEntry({ n: calls }, { version: calls });
		};
		void readThrough(env, { key, load, waitUntil });
		const startedAt = Date.now();
		const second = await readThrough(env, { key, load, waitUntil });
		expect(second?.status).toBe("MISS");
		expect(JSON.parse(second?.entry.body ?? "null")).toEqual({ n: 2 });
		expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2_000);
		expect(calls).toBe(2);
		// The late read's replacement is the one later readers join or find cached.
		expect((await readThrough(env, { key, load, waitUntil }))?.status).toBe("HIT");
	});
});
