import { env, runDurableObjectAlarm } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { authAuthorityClient } from "../../durable-objects/auth-authority/client.ts";
import { hashApiKey } from "../../workers/auth/api-key-format.ts";
import { withDb } from "../../workers/db/client.ts";
import { apiKeys } from "../../workers/db/schema/api-keys.ts";
import type { ApiKeyResponse, ApiKeyWithSecretResponse } from "../../workers/routes/api-keys/schema.ts";
import type { ApiKeyPageResponse } from "../../workers/routes/api-keys/list-api-keys.ts";
import { call, json } from "../support/http.ts";
import { createKey, eventRecorder, msUntil, personWith, problem, withKey } from "./helpers.ts";

const KEY_FORMAT = /^cov_test_([a-z2-7]{16})_[a-z2-7]{40}$/;

afterEach(() => {
	vi.useRealTimers();
});

describe("POST /v1/api-keys", () => {
	it("creates a key whose secret is shown once, with a recognisable prefix, stored only as a hash", async () => {
		const partner = await personWith("partner", "partner");
		const created = await createKey(partner, { name: "Settlement export", scopes: ["partner", "nation:KE"] });
		expect(created.key).toMatch(KEY_FORMAT);
		expect(created.key.startsWith(`${created.prefix}_`)).toBe(true);
		expect(created).toMatchObject({
			name: "Settlement export",
			owner: partner.sub,
			created_by: partner.sub,
			scopes: ["partner", "nation:KE"],
			status: "active",
			environment: "test",
			last_used_at: null,
			revoked_at: null,
		});

		const read = await call(`/v1/api-keys/${created.id}`, { headers: partner.headers });
		expect(read.status).toBe(200);
		const shown = await json<ApiKeyResponse & { key?: string }>(read);
		expect(shown.key).toBeUndefined();
		expect(JSON.stringify(shown)).not.toContain(created.key.split("_").at(-1));

		const [row] = await withDb(env, (db) => db.select().from(apiKeys).where(eq(apiKeys.id, created.id)));
		expect(row?.secretHash).toBe(await hashApiKey(created.key));
		expect(JSON.stringify(row)).not.toContain(created.key.split("_").at(-1));
	});

	it("authenticates with the key (Bearer or X-API-Key) with exactly its scopes", async () => {
		const partner = await personWith("partner", "partner");
		const created = await createKey(partner, { scopes: ["partner"] });
		const viaHeader = await call("/v1/api-keys", { headers: withKey(created.key) });
		expect(viaHeader.status).toBe(200);
		const page = await json<ApiKeyPageResponse>(viaHeader);
		expect(page.data.map((k) => k.id)).toContain(created.id);
		const viaBearer = await call(`/v1/api-keys/${created.id}`, {
			headers: { authorization: `Bearer ${created.key}` },
		});
		expect(viaBearer.status).toBe(200);
		// A partner key cannot reach what partners cannot, nor a person's profile.
		const users = await call("/v1/users", { headers: withKey(created.key) });
		expect(users.status).toBe(403);
		const me = await call("/v1/me", { headers: withKey(created.key) });
		expect(me.status).toBe(403);
		expect((await problem(me)).detail).toMatch(/no user profile/);
	});

	it("refuses scopes beyond the creator's own (no privilege escalation)", async () => {
		const partner = await personWith("partner", "partner");
		for (const scopes of [["admin"], ["partner", "ledger:write"], ["users:read"], ["nation:KE"]]) {
			const response = await call("/v1/api-keys", {
				method: "POST",
				headers: partner.headers,
				json: { name: "x", scopes },
			});
			expect(response.status, scopes.join(" ")).toBe(403);
			const body = await problem(response);
			expect((body.errors as { code: string }[])[0]?.code).toBe("scope_escalation");
		}
		const governor = await personWith("nation:KE api_keys:write", "governor");
		const other = await call("/v1/api-keys", {
			method: "POST",
			headers: governor.headers,
			json: { name: "x", scopes: ["nation:TZ"] },
		});
		expect(other.status).toBe(403);
		const own = await call("/v1/api-keys", {
			method: "POST",
			headers: governor.headers,
			json: { name: "x", scopes: ["viewer", "nation:KE"] },
		});
		expect(own.status).toBe(201);
	});

	it("refuses unknown scope tokens with 400 naming them", async () => {
		const admin = await personWith("admin", "admin");
		const response = await call("/v1/api-keys", {
			method: "POST",
			headers: admin.headers,
			json: { name: "x", scopes: ["partner", "sector:mining", "projects:delete"] },
		});
		expect(response.status).toBe(400);
		const body = await problem(response);
		expect((body.errors as { path: unknown[] }[]).map((e) => e.path)).toEqual([
			["scopes", 1],
			["scopes", 2],
		]);
	});

	it("refuses body fields the caller's role may not set (mass assignment), and unknown ones", async () => {
		const partner = await personWith("partner", "partner");
		const limited = await call("/v1/api-keys", {
			method: "POST",
			headers: partner.headers,
			json: {
				name: "x",
				scopes: ["partner"],
				rate_limit: { per_minute: 100000, burst: 5000 },
				owner: "someone-else",
			},
		});
		expect(limited.status).toBe(403);
		const body = await problem(limited);
		expect((body.errors as { path: string[] }[]).map((e) => e.path.join("."))).toEqual([
			"owner",
			"rate_limit",
		]);

		const unknown = await call("/v1/api-keys", {
			method: "POST",
			headers: partner.headers,
			json: { name: "x", scopes: ["partner"], secret_hash: "00", status: "active" },
		});
		expect(unknown.status).toBe(400);

		const admin = await personWith("admin", "admin");
		const forPartner = await createKey(admin, {
			scopes: ["partner"],
			owner: partner.sub,
			rate_limit: { per_minute: 120, burst: 10 },
		});
		expect(forPartner).toMatchObject({
			owner: partner.sub,
			created_by: admin.sub,
			rate_limit: { per_minute: 120, burst: 10 },
		});
		const partnerSees = await json<ApiKeyPageResponse>(
			await call("/v1/api-keys", { headers: partner.headers }),
		);
		expect(partnerSees.data.map((k) => k.id)).toContain(forPartner.id);
	});

	it("refuses expiry dates in the past or too far ahead", async () => {
		const partner = await personWith("partner", "partner");
		for (const expires_at of [new Date(Date.now() - 1000).toISOString(), "2099-01-01T00:00:00Z"]) {
			const response = await call("/v1/api-keys", {
				method: "POST",
				headers: partner.headers,
				json: { name: "x", scopes: ["partner"], expires_at },
			});
			expect(response.status).toBe(400);
		}
	});

	it("never lets an API key create keys", async () => {
		const admin = await personWith("admin", "admin");
		const created = await createKey(admin, { scopes: ["admin"] });
		const response = await call("/v1/api-keys", {
			method: "POST",
			headers: withKey(created.key),
			json: { name: "child", scopes: ["viewer"] },
		});
		expect(response.status).toBe(403);
	});

	it("is idempotent with an Idempotency-Key: a retry makes no second key", async () => {
		const partner = await personWith("partner", "partner");
		const headers = { ...partner.headers, "idempotency-key": crypto.randomUUID() };
		const body = { name: "retry", scopes: ["partner"] };
		const first = await call("/v1/api-keys", { method: "POST", headers, json: body });
		expect(first.status).toBe(201);
		const { id } = await json<ApiKeyWithSecretResponse>(first);
		const again = await call("/v1/api-keys", { method: "POST", headers, json: body });
		expect(again.status).toBe(409);
		expect((await problem(again)).key_id).toBe(id);
		const different = await call("/v1/api-keys", {
			method: "POST",
			headers,
			json: { ...body, name: "other" },
		});
		expect(different.status).toBe(422);
		const keys = await withDb(env, (db) =>
			db.select().from(apiKeys).where(eq(apiKeys.ownerSub, partner.sub)),
		);
		expect(keys).toHaveLength(1);
	});

	it("emits audit.permission_changed", async () => {
		const partner = await personWith("partner", "partner");
		const recorder = eventRecorder();
		const response = await call(
			"/v1/api-keys",
			{ method: "POST", headers: partner.headers, json: { name: "audited", scopes: ["partner"] } },
			recorder.overrides,
		);
		expect(response.status).toBe(201);
		const { id, key } = await json<ApiKeyWithSecretResponse>(response);
		const [event] = recorder.ofType("audit.permission_changed");
		expect(event).toMatchObject({
			subject: `api-keys/${id}`,
			actor: partner.sub,
			data: {
				principal: `api_key:${id}`,
				action: "api_key.created",
				after: { scopes: ["partner"], status: "active" },
			},
		});
		expect(JSON.stringify(event)).not.toContain(key);
	});
});

describe("GET /v1/api-keys", () => {
	it("shows a partner only its own keys, an admin everyone's", async () => {
		const alice = await personWith("partner", "alice");
		const bob = await personWith("partner", "bob");
		const aliceKey = await createKey(alice);
		const bobKey = await createKey(bob);

		const seenByBob = await json<ApiKeyPageResponse>(await call("/v1/api-keys", { headers: bob.headers }));
		expect(seenByBob.data.map((k) => k.id)).toEqual([bobKey.id]);
		expect((await call(`/v1/api-keys/${aliceKey.id}`, { headers: bob.headers })).status).toBe(404);
		expect(
			(await call(`/v1/api-keys/${aliceKey.id}`, { method: "DELETE", headers: bob.headers })).status,
		).toBe(404);
		expect(
			(await call(`/v1/api-keys/${aliceKey.id}/rotate`, { method: "POST", headers: bob.headers })).status,
		).toBe(404);
		expect((await call(`/v1/api-keys?owner=${alice.sub}`, { headers: bob.headers })).status).toBe(403);

		const admin = await personWith("admin", "admin");
		const ofAlice = await json<ApiKeyPageResponse>(
			await call(`/v1/api-keys?owner=${alice.sub}`, { headers: admin.headers }),
		);
		expect(ofAlice.data.map((k) => k.id)).toEqual([aliceKey.id]);
		expect((await call(`/v1/api-keys/${bobKey.id}`, { headers: admin.headers })).status).toBe(200);
	});

	it("pages newest first with a cursor, and filters by status", async () => {
		const partner = await personWith("partner", "pager");
		const ids: string[] = [];
		for (let i = 0; i < 3; i++) ids.push((await createKey(partner, { name: `k${i}` })).id);
		await call(`/v1/api-keys/${ids[0]}`, { method: "DELETE", headers: partner.headers });

		const seen: string[] = [];
		let cursor: string | null = null;
		do {
			const query: string = cursor ? `&cursor=${cursor}` : "";
			const page: ApiKeyPageResponse = await json<ApiKeyPageResponse>(
				await call(`/v1/api-keys?limit=1${query}`, { headers: partner.headers }),
			);
			seen.push(...page.data.map((k) => k.id));
			cursor = page.next_cursor;
		} while (cursor);
		expect(seen).toEqual([...ids].reverse());

		const active = await json<ApiKeyPageResponse>(
			await call("/v1/api-keys?status=active", { headers: partner.headers }),
		);
		expect(active.data.map((k) => k.id).sort()).toEqual([ids[1], ids[2]].sort());
		const revoked = await json<ApiKeyPageResponse>(
			await call("/v1/api-keys?status=revoked", { headers: partner.headers }),
		);
		expect(revoked.data.map((k) => k.id)).toEqual([ids[0]]);
		const badCursor = await call("/v1/api-keys?status=revoked&cursor=abc", { headers: partner.headers });
		expect(badCursor.status).toBe(400);
	});

	it("reports when a key was last used (flushed from the authority)", async () => {
		const partner = await personWith("partner", "used");
		const created = await createKey(partner);
		expect((await call("/v1/api-keys", { headers: withKey(created.key) })).status).toBe(200);
		const authority = env.AUTH_AUTHORITY.get(env.AUTH_AUTHORITY.idFromName("global"));
		expect((await authAuthorityClient(env).describeApiKey(created.id))?.lastUsedAt).toBeTypeOf("number");
		await runDurableObjectAlarm(authority);
		const shown = await json<ApiKeyResponse>(
			await call(`/v1/api-keys/${created.id}`, { headers: partner.headers }),
		);
		expect(shown.last_used_at).not.toBeNull();
	});
});

describe("DELETE /v1/api-keys/{id}", () => {
	it("revokes: the key is refused at once here, idempotently, with one audit event", async () => {
		const partner = await personWith("partner", "revoker");
		const created = await createKey(partner);
		expect((await call("/v1/api-keys", { headers: withKey(created.key) })).status).toBe(200);
		const recorder = eventRecorder();
		const revoked = await call(
			`/v1/api-keys/${created.id}`,
			{ method: "DELETE", headers: partner.headers },
			recorder.overrides,
		);
		expect(revoked.status).toBe(200);
		expect(await json<ApiKeyResponse>(revoked)).toMatchObject({ status: "revoked" });
		const refused = await call("/v1/api-keys", { headers: withKey(created.key) });
		expect(refused.status).toBe(401);
		expect((await problem(refused)).detail).toMatch(/revoked/);

		const again = await call(
			`/v1/api-keys/${created.id}`,
			{ method: "DELETE", headers: partner.headers },
			recorder.overrides,
		);
		expect(again.status).toBe(200);
		expect(recorder.ofType("audit.permission_changed").map((e) => e.data.action)).toEqual([
			"api_key.revoked",
		]);
	});

	it("is effective within a second in an isolate that still holds the key as valid", async () => {
		const partner = await personWith("partner", "elsewhere");
		const created = await createKey(partner);
		expect((await call("/v1/api-keys", { headers: withKey(created.key) })).status).toBe(200);
		// Revoked at the authority by another edge: this isolate's cache is not told.
		const [row] = await withDb(env, (db) => db.select().from(apiKeys).where(eq(apiKeys.id, created.id)));
		if (!row) throw new Error("key row missing");
		const { authorityState } = await import("../../workers/routes/api-keys/schema.ts");
		await authAuthorityClient(env).putApiKey({
			...authorityState(row),
			revokedAt: Date.now(),
			version: row.version + 1,
		});
		const elapsed = await msUntil(
			() => call("/v1/api-keys", { headers: withKey(created.key) }),
			(response) => response.status === 401,
		);
		expect(elapsed).toBeLessThan(1_000);
	});
});

describe("POST /v1/api-keys/{id}/rotate", () => {
	it("issues a new secret and keeps the old one valid for the grace period", async () => {
		const partner = await personWith("partner", "rotator");
		const created = await createKey(partner);
		const response = await call(`/v1/api-keys/${created.id}/rotate`, {
			method: "POST",
			headers: partner.headers,
			json: { grace_period_seconds: 3600 },
		});
		expect(response.status).toBe(200);
		const rotated = await json<ApiKeyWithSecretResponse>(response);
		expect(rotated.id).toBe(created.id);
		expect(rotated.key).not.toBe(created.key);
		expect(rotated.key.startsWith(`${created.prefix}_`)).toBe(true);
		expect(Date.parse(rotated.previous_key_valid_until ?? "")).toBeGreaterThan(Date.now() + 3500_000);
		expect((await call("/v1/api-keys", { headers: withKey(rotated.key) })).status).toBe(200);
		expect((await call("/v1/api-keys", { headers: withKey(created.key) })).status).toBe(200);

		// A second rotation without grace: only the newest secret works.
		const again = await json<ApiKeyWithSecretResponse>(
			await call(`/v1/api-keys/${created.id}/rotate`, {
				method: "POST",
				headers: partner.headers,
				json: { grace_period_seconds: 0 },
			}),
		);
		expect(again.previous_key_valid_until).toBeNull();
		expect((await call("/v1/api-keys", { headers: withKey(created.key) })).status).toBe(401);
		expect((await call("/v1/api-keys", { headers: withKey(rotated.key) })).status).toBe(401);
		expect((await call("/v1/api-keys", { headers: withKey(again.key) })).status).toBe(200);
	});

	it("rotates without a body (default grace) and refuses revoked keys", async () => {
		const partner = await personWith("partner", "rotator2");
		const created = await createKey(partner);
		const response = await call(`/v1/api-keys/${created.id}/rotate`, {
			method: "POST",
			headers: partner.headers,
		});
		expect(response.status).toBe(200);
		const rotated = await json<ApiKeyWithSecretResponse>(response);
		expect(Date.parse(rotated.previous_key_valid_until ?? "")).toBeGreaterThan(Date.now() + 23 * 3600_000);
		await call(`/v1/api-keys/${created.id}`, { method: "DELETE", headers: partner.headers });
		expect((await call("/v1/api-keys", { headers: withKey(rotated.key) })).status).toBe(401);
		expect((await call("/v1/api-keys", { headers: withKey(created.key) })).status).toBe(401);
		const refused = await call(`/v1/api-keys/${created.id}/rotate`, {
			method: "POST",
			headers: partner.headers,
		});
		expect(refused.status).toBe(409);
	});
});

describe("PATCH /v1/api-keys/{id}", () => {
	it("renames a key; only an admin changes its limit, which applies at once", async () => {
		const partner = await personWith("partner", "patcher");
		const created = await createKey(partner);
		const renamed = await call(`/v1/api-keys/${created.id}`, {
			method: "PATCH",
			headers: partner.headers,
			json: { name: "renamed" },
		});
		expect(renamed.status).toBe(200);
		expect(await json<ApiKeyResponse>(renamed)).toMatchObject({ name: "renamed", version: 2 });
		const refused = await call(`/v1/api-keys/${created.id}`, {
			method: "PATCH",
			headers: partner.headers,
			json: { rate_limit: { per_minute: 1_000_000, burst: 100_000 } },
		});
		expect(refused.status).toBe(403);
		for (const body of [{ scopes: ["admin"] }, { owner: "x" }, {}]) {
			const response = await call(`/v1/api-keys/${created.id}`, {
				method: "PATCH",
				headers: partner.headers,
				json: body,
			});
			expect(response.status, JSON.stringify(body)).toBe(400);
		}

		const admin = await personWith("admin", "admin");
		const recorder = eventRecorder();
		const limited = await call(
			`/v1/api-keys/${created.id}`,
			{ method: "PATCH", headers: admin.headers, json: { rate_limit: { per_minute: 60, burst: 1 } } },
			recorder.overrides,
		);
		expect(await json<ApiKeyResponse>(limited)).toMatchObject({ rate_limit: { per_minute: 60, burst: 1 } });
		expect(recorder.ofType("audit.permission_changed").map((e) => e.data.action)).toEqual([
			"api_key.limits_changed",
		]);
		const first = await call("/v1/api-keys", { headers: withKey(created.key) });
		expect(first.headers.get("ratelimit-policy")).toBe('"api-key";q=1;w=1');
		expect((await call("/v1/api-keys", { headers: withKey(created.key) })).status).toBe(429);
	});
});

describe("API key credentials", () => {
	it("refuses malformed, unknown, wrong-secret and other-environment keys with 401", async () => {
		const partner = await personWith("partner", "keys");
		const created = await createKey(partner);
		const [, id] = KEY_FORMAT.exec(created.key) ?? [];
		const candidates = [
			"cov_test_short",
			`cov_test_${"a".repeat(16)}_${"b".repeat(40)}`,
			`cov_test_${id}_${"b".repeat(40)}`,
			created.key.replace("cov_test_", "cov_live_"),
		];
		for (const key of candidates) {
			const response = await call("/v1/api-keys", { headers: withKey(key) });
			expect(response.status, key).toBe(401);
			expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
		}
		const both = await call("/v1/api-keys", { headers: { ...withKey(created.key), ...partner.headers } });
		expect(both.status).toBe(401);
	});

	it("stops accepting a key once it expires", async () => {
		const partner = await personWith("partner", "expiring");
		const created = await createKey(partner, { expires_at: new Date(Date.now() + 120_000).toISOString() });
		expect((await call("/v1/api-keys", { headers: withKey(created.key) })).status).toBe(200);
		vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 180_000 });
		const response = await call("/v1/api-keys", { headers: withKey(created.key) });
		expect(response.status).toBe(401);
		expect((await problem(response)).detail).toMatch(/expired/);
	});
});
