import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { webhookEndpoints } from "../../workers/db/schema/webhooks.ts";
import type { EndpointPageResponse } from "../../workers/routes/webhooks/list-endpoints.ts";
import type { EventTypeListResponse } from "../../workers/routes/webhooks/list-event-types.ts";
import type { RotatedSecretResponse } from "../../workers/routes/webhooks/rotate-secret.ts";
import type { EndpointResponse, EndpointWithSecretResponse } from "../../workers/routes/webhooks/schema.ts";
import { createKey, personWith, withKey } from "../identity/helpers.ts";
import { call, json } from "../support/http.ts";
import { createEndpoint, db, deleteTestEndpoints, partner, sinkUrl } from "./support.ts";

const HOOK = sinkUrl();

afterAll(deleteTestEndpoints);

describe("webhook endpoints: create, read, change, delete", () => {
	it("creates an endpoint with its secret once, then reads it without the secret", async () => {
		const p = await partner();
		const response = await call("/v1/webhooks/endpoints", {
			method: "POST",
			headers: p.headers,
			json: {
				url: HOOK,
				description: "Settlement",
				event_types: ["covenant.payments.*", "covenant.projects.created"],
			},
		});
		expect(response.status).toBe(201);
		const created = await json<EndpointWithSecretResponse>(response);
		expect(response.headers.get("location")).toBe(`/v1/webhooks/endpoints/${created.id}`);
		expect(response.headers.get("cache-control")).toBe("no-store");
		expect(created).toMatchObject({
			url: HOOK,
			description: "Settlement",
			event_types: ["covenant.payments.*", "covenant.projects.created"],
			scope: null,
			enabled: true,
			owner: p.sub,
			failing_since: null,
			version: 1,
		});
		expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

		const read = await call(`/v1/webhooks/endpoints/${created.id}`, { headers: p.headers });
		expect(read.status).toBe(200);
		const body = await json<EndpointResponse & { secret?: string }>(read);
		expect(body.secret).toBeUndefined();
		expect(JSON.stringify(body)).not.toContain(created.secret.slice(6));
		expect(read.headers.get("etag")).toBe(`"whe-${created.id}-v1"`);

		// At rest: only the AES-GCM ciphertext.
		const [row] = await db((d) =>
			d.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, created.id)),
		);
		expect(row?.secretCiphertext).toMatch(/^enc:v1:dev-only:/);
		expect(row?.secretCiphertext).not.toContain(created.secret.slice(6));
		expect(row?.ownerScope).toBe("partner");
	});

	it("defaults to every covenant event, and lists a partner's own endpoints newest first with a cursor", async () => {
		const p = await partner();
		const first = await createEndpoint(p, { url: `${HOOK}/1` });
		const second = await createEndpoint(p, { url: `${HOOK}/2` });
		const third = await createEndpoint(p, { url: `${HOOK}/3`, enabled: false });
		expect(first.event_types).toEqual(["covenant.*"]);
		expect(third).toMatchObject({ enabled: false, disabled_reason: "created disabled" });

		const page1 = await json<EndpointPageResponse>(
			await call("/v1/webhooks/endpoints?limit=2", { headers: p.headers }),
		);
		expect(page1.data.map((e) => e.id)).toEqual([third.id, second.id]);
		expect(page1.next_cursor).toBeTruthy();
		const page2 = await json<EndpointPageResponse>(
			await call(`/v1/webhooks/endpoints?limit=2&cursor=${page1.next_cursor}`, { headers: p.headers }),
		);
		expect(page2.data.map((e) => e.id)).toEqual([first.id]);
		expect(page2.next_cursor).toBeNull();
		const enabledOnly = await json<EndpointPageResponse>(
			await call("/v1/webhooks/endpoints?enabled=true", { headers: p.headers }),
		);
		expect(enabledOnly.data.map((e) => e.id)).toEqual([second.id, first.id]);
	});

	it("changes an endpoint with If-Match, refusing a stale ETag, and deletes it", async () => {
		const p = await partner();
		const created = await createEndpoint(p, { url: HOOK });
		const path = `/v1/webhooks/endpoints/${created.id}`;
		const patched = await call(path, {
			method: "PATCH",
			headers: { ...p.headers, "if-match": `"whe-${created.id}-v1"` },
			json: {
				description: "now filtered",
				event_types: ["covenant.countries.updated"],
				scope: { nations: ["KE", "TZ"] },
			},
		});
		expect(patched.status).toBe(200);
		expect(patched.headers.get("etag")).toBe(`"whe-${created.id}-v2"`);
		expect(await json<EndpointResponse>(patched)).toMatchObject({
			description: "now filtered",
			event_types: ["covenant.countries.updated"],
			scope: { nations: ["KE", "TZ"] },
			version: 2,
		});

		const stale = await call(path, {
			method: "PATCH",
			headers: { ...p.headers, "if-match": `"whe-${created.id}-v1"` },
			json: { description: "lost update" },
		});
		expect(stale.status).toBe(412);
		expect(stale.headers.get("etag")).toBe(`"whe-${created.id}-v2"`);

		// The same values again change nothing (no new version).
		const same = await call(path, {
			method: "PATCH",
			headers: p.headers,
			json: { description: "now filtered" },
		});
		expect((await json<EndpointResponse>(same)).version).toBe(2);

		expect((await call(path, { method: "DELETE", headers: p.headers })).status).toBe(204);
		expect((await call(path, { headers: p.headers })).status).toBe(404);
		expect((await call(path, { method: "DELETE", headers: p.headers })).status).toBe(404);
	});

	it("pausing and re-enabling: re-enabling clears the reason and the failure streak", async () => {
		const p = await partner();
		const created = await createEndpoint(p, { url: HOOK });
		const path = `/v1/webhooks/endpoints/${created.id}`;
		const paused = await json<EndpointResponse>(
			await call(path, { method: "PATCH", headers: p.headers, json: { enabled: false } }),
		);
		expect(paused).toMatchObject({ enabled: false, disabled_reason: "paused through the API" });
		await db((d) =>
			d
				.update(webhookEndpoints)
				.set({ failingSince: new Date(Date.now() - 3_600_000) })
				.where(eq(webhookEndpoints.id, created.id)),
		);
		const resumed = await json<EndpointResponse>(
			await call(path, { method: "PATCH", headers: p.headers, json: { enabled: true } }),
		);
		expect(resumed).toMatchObject({
			enabled: true,
			disabled_reason: null,
			disabled_at: null,
			failing_since: null,
		});
	});

	it("answers a repeated create with the same Idempotency-Key with the same endpoint and secret", async () => {
		const p = await partner();
		const key = crypto.randomUUID();
		const send = (body: Record<string, unknown>) =>
			call("/v1/webhooks/endpoints", {
				method: "POST",
				headers: { ...p.headers, "idempotency-key": key },
				json: body,
			});
		const first = await send({ url: HOOK });
		const again = await send({ url: HOOK });
		expect(again.status).toBe(201);
		expect(again.headers.get("idempotent-replayed")).toBe("true");
		const [a, b] = [
			await json<EndpointWithSecretResponse>(first),
			await json<EndpointWithSecretResponse>(again),
		];
		expect(b.id).toBe(a.id);
		expect(b.secret).toBe(a.secret);
		const other = await send({ url: `${HOOK}/other` });
		expect(other.status).toBe(422);
		expect((await json(other)).code).toBe("idempotency_key_reused");
		const list = await json<EndpointPageResponse>(
			await call("/v1/webhooks/endpoints", { headers: p.headers }),
		);
		expect(list.data).toHaveLength(1);
	});

	it("rotates the secret with a 24 h grace period by default, idempotently with a key", async () => {
		const p = await partner();
		const created = await createEndpoint(p, { url: HOOK });
		const path = `/v1/webhooks/endpoints/${created.id}/rotate-secret`;
		const key = crypto.randomUUID();
		const response = await call(path, { method: "POST", headers: { ...p.headers, "idempotency-key": key } });
		expect(response.status).toBe(200);
		const rotated = await json<RotatedSecretResponse>(response);
		expect(rotated.secret).toMatch(/^whsec_/);
		expect(rotated.secret).not.toBe(created.secret);
		const graceMs = Date.parse(rotated.endpoint.previous_secret_expires_at ?? "") - Date.now();
		expect(graceMs).toBeGreaterThan(24 * 3600_000 - 60_000);
		expect(graceMs).toBeLessThanOrEqual(24 * 3600_000);
		expect(rotated.endpoint.secret_rotated_at).toBeTruthy();

		const replay = await json<RotatedSecretResponse>(
			await call(path, { method: "POST", headers: { ...p.headers, "idempotency-key": key } }),
		);
		expect(replay.secret).toBe(rotated.secret);

		const immediate = await json<RotatedSecretResponse>(
			await call(path, { method: "POST", headers: p.headers, json: { grace_period_seconds: 0 } }),
		);
		expect(immediate.secret).not.toBe(rotated.secret);
		expect(immediate.endpoint.previous_secret_expires_at).toBeNull();
	});

	it("gives a scoped partner its own constraint as the default scope filter", async () => {
		const p = await partner("partner nation:KE");
		const created = await createEndpoint(p, { url: HOOK });
		expect(created.scope).toEqual({ nations: ["KE"] });
		const narrower = await createEndpoint(p, { url: HOOK, scope: { nations: ["KE"], sectors: ["energy"] } });
		expect(narrower.scope).toEqual({ nations: ["KE"], sectors: ["energy"] });
	});

	it("lets a partner manage endpoints with its API key; its person token sees the same endpoints", async () => {
		const person = await personWith("partner", "key-owner");
		const key = await createKey(person, { scopes: ["partner"] });
		const created = await call("/v1/webhooks/endpoints", {
			method: "POST",
			headers: withKey(key.key),
			json: { url: HOOK, event_types: ["covenant.projects.*"] },
		});
		expect(created.status).toBe(201);
		const endpoint = await json<EndpointWithSecretResponse>(created);
		expect(endpoint.owner).toBe(person.sub);
		const seen = await json<EndpointPageResponse>(
			await call("/v1/webhooks/endpoints", { headers: person.headers }),
		);
		expect(seen.data.map((e) => e.id)).toEqual([endpoint.id]);
	});

	it("lists the event types partners can subscribe to, without internal ones", async () => {
		const p = await partner();
		const response = await call("/v1/webhooks/event-types", { headers: p.headers });
		expect(response.status).toBe(200);
		const body = await json<EventTypeListResponse>(response);
		const types = body.data.map((t) => t.type);
		expect(types).toContain("covenant.payments.distributed");
		expect(types).toContain("covenant.sectors.energy.updated");
		expect(types).toContain("webhooks.endpoint.disabled");
		expect(types).not.toContain("users.authenticated");
		expect(types).not.toContain("audit.permission_changed");
		expect(body.test_type).toBe("webhooks.test");
	});
});
