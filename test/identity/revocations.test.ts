import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { authAuthorityClient } from "../../durable-objects/auth-authority/client.ts";
import type { RevocationPageResponse } from "../../workers/routes/admin/revocations/list-revocations.ts";
import type { RevocationResponse } from "../../workers/routes/admin/revocations/schema.ts";
import { tokenFor, uniqueSub } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import { eventRecorder, msUntil, personWith, problem } from "./helpers.ts";

const asToken = (token: string) => ({ authorization: `Bearer ${token}` });
const revoke = (headers: Record<string, string>, body: unknown, envOverrides: Partial<Env> = {}) =>
	call("/v1/admin/revocations", { method: "POST", headers, json: body }, envOverrides);

describe("POST /v1/admin/revocations", () => {
	it("revokes one token by jti: refused at once, other tokens of the subject unaffected", async () => {
		const admin = await personWith("admin", "admin");
		const sub = uniqueSub("victim");
		const jti = crypto.randomUUID();
		const stolen = await tokenFor("viewer", { sub, jti });
		const other = await tokenFor("viewer", { sub });
		expect((await call("/v1/me", { headers: asToken(stolen) })).status).toBe(200);

		const recorder = eventRecorder();
		const created = await revoke(admin.headers, { jti, reason: "laptop stolen" }, recorder.overrides);
		expect(created.status).toBe(201);
		expect(await json<RevocationResponse>(created)).toMatchObject({
			kind: "jti",
			value: jti,
			reason: "laptop stolen",
			created_by: admin.sub,
		});
		const refused = await call("/v1/me", { headers: asToken(stolen) });
		expect(refused.status).toBe(401);
		expect((await problem(refused)).detail).toMatch(/revoked/);
		expect((await call("/v1/me", { headers: asToken(other) })).status).toBe(200);
		expect(recorder.ofType("audit.permission_changed")).toHaveLength(1);
		expect(recorder.ofType("audit.permission_changed")[0]).toMatchObject({
			actor: admin.sub,
			data: { principal: `token:${jti}`, action: "token.revoked" },
		});

		const again = await revoke(admin.headers, { jti });
		expect(again.status).toBe(200);
	});

	it("ends every session of a subject: tokens issued before are refused, a new sign-in works", async () => {
		const admin = await personWith("admin", "admin");
		const sub = uniqueSub("leaver");
		const before = await tokenFor("partner", { sub, iat: Math.floor(Date.now() / 1000) - 5 });
		expect((await call("/v1/me", { headers: asToken(before) })).status).toBe(200);
		expect((await revoke(admin.headers, { sub })).status).toBe(201);
		expect((await call("/v1/me", { headers: asToken(before) })).status).toBe(401);
		const after = await tokenFor("partner", { sub, iat: Math.floor(Date.now() / 1000) + 2 });
		expect((await call("/v1/me", { headers: asToken(after) })).status).toBe(200);
	});

	it("is effective within a second in an isolate that did not make the revocation", async () => {
		const sub = uniqueSub("remote");
		const jti = crypto.randomUUID();
		const token = await tokenFor("viewer", { sub, jti });
		expect((await call("/v1/me", { headers: asToken(token) })).status).toBe(200);
		// Another edge revoked it: only the authority knows; this isolate finds out on its next refresh.
		const outcome = await authAuthorityClient(env).revoke({
			kind: "jti",
			value: jti,
			revokedBefore: Date.now(),
			expiresAt: Date.now() + 3_600_000,
		});
		expect("entry" in outcome).toBe(true);
		const elapsed = await msUntil(
			() => call("/v1/me", { headers: asToken(token) }),
			(response) => response.status === 401,
		);
		expect(elapsed).toBeLessThan(1_000);
	});

	it("is admin only, and validates its body", async () => {
		const governor = await personWith("nation:KE", "governor");
		expect((await revoke(governor.headers, { sub: "anyone" })).status).toBe(403);
		const admin = await personWith("admin", "admin");
		for (const body of [
			{},
			{ jti: "a", sub: "b" },
			{ sub: "x", expires_at: "2030-01-01T00:00:00Z" },
			{ jti: "" },
		]) {
			const response = await revoke(admin.headers, body);
			expect(response.status, JSON.stringify(body)).toBe(400);
		}
	});
});

describe("GET /v1/admin/revocations", () => {
	it("lists revocations in force, filterable, with a cursor", async () => {
		const admin = await personWith("admin", "admin");
		const subject = uniqueSub("listed");
		expect((await revoke(admin.headers, { sub: subject })).status).toBe(201);
		const page = await json<RevocationPageResponse>(
			await call(`/v1/admin/revocations?kind=sub&value=${subject}`, { headers: admin.headers }),
		);
		expect(page.data).toHaveLength(1);
		expect(page.data[0]).toMatchObject({ kind: "sub", value: subject });
		expect(Date.parse(page.data[0]?.expires_at ?? "")).toBeGreaterThan(Date.now() + 23 * 3600_000);

		const first = await json<RevocationPageResponse>(
			await call("/v1/admin/revocations?limit=1", { headers: admin.headers }),
		);
		expect(first.data).toHaveLength(1);
		expect(first.next_cursor).toBeTruthy();
		const viewer = await personWith("viewer", "viewer");
		expect((await call("/v1/admin/revocations", { headers: viewer.headers })).status).toBe(403);
	});
});
