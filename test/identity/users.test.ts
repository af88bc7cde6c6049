import { describe, expect, it } from "vitest";
import type { UserPageResponse } from "../../workers/routes/users/list-users.ts";
import type { UserResponse } from "../../workers/routes/me/schema.ts";
import { tokenFor, uniqueSub } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import { createKey, eventRecorder, personWith, problem, withKey } from "./helpers.ts";

const patchMe = (headers: Record<string, string>, body: unknown) =>
	call("/v1/me", { method: "PATCH", headers, json: body });

describe("GET /v1/me", () => {
	it("provisions the person on first sight from the token, home region from the serving edge", async () => {
		const person = await personWith("viewer", "first", { email: "ada@example.org", name: "Ada" });
		const response = await call("/v1/me", { headers: person.headers });
		expect(response.status).toBe(200);
		const user = await json<UserResponse>(response);
		expect(user).toMatchObject({
			sub: person.sub,
			email: "ada@example.org",
			name: "Ada",
			display_name: "Ada",
			home_region: "ams",
			locale: null,
			preferences: {},
			version: 1,
		});
		expect(response.headers.get("etag")).toBe(`"user-${user.id}-v1"`);
		const again = await call("/v1/me", {
			headers: { ...person.headers, "if-none-match": response.headers.get("etag") ?? "" },
		});
		expect(again.status).toBe(304);
	});

	it("provisions on any first authenticated request and announces one users.authenticated per session", async () => {
		const sub = uniqueSub("session");
		const token = await tokenFor("partner", { sub });
		const recorder = eventRecorder();
		for (let i = 0; i < 3; i++) {
			const response = await call(
				"/v1/api-keys",
				{ headers: { authorization: `Bearer ${token}` } },
				recorder.overrides,
			);
			expect(response.status).toBe(200);
		}
		const me = await json<UserResponse>(
			await call("/v1/me", { headers: { authorization: `Bearer ${token}` } }, recorder.overrides),
		);
		const announced = recorder.ofType("users.authenticated");
		expect(announced).toHaveLength(1);
		expect(announced[0]).toMatchObject({
			actor: sub,
			subject: `users/${me.id}`,
			data: { user_id: me.id, method: "oidc" },
		});
	});

	it("does not provision or announce a refused request", async () => {
		const sub = uniqueSub("refused");
		const token = await tokenFor("viewer", { sub });
		const recorder = eventRecorder();
		const refused = await call(
			"/v1/users",
			{ headers: { authorization: `Bearer ${token}` } },
			recorder.overrides,
		);
		expect(refused.status).toBe(403);
		expect(recorder.events).toEqual([]);
		const admin = await personWith("admin", "admin");
		const page = await json<UserPageResponse>(await call(`/v1/users?sub=${sub}`, { headers: admin.headers }));
		expect(page.data).toEqual([]);
	});

	it("is for people: an API key has no profile", async () => {
		const partner = await personWith("partner", "partner");
		const created = await createKey(partner);
		const response = await call("/v1/me", { headers: withKey(created.key) });
		expect(response.status).toBe(403);
	});
});

describe("PATCH /v1/me", () => {
	it("changes display name, home region, locale and preferences, with ETags", async () => {
		const person = await personWith("", "patcher", { name: "Grace" });
		const read = await call("/v1/me", { headers: person.headers });
		const etag = read.headers.get("etag") ?? "";
		const response = await patchMe(
			{ ...person.headers, "if-match": etag },
			{
				display_name: "G. Hopper",
				home_region: "iad",
				locale: "en-us",
				preferences: { theme: "dark", digest: { weekly: true } },
			},
		);
		expect(response.status).toBe(200);
		const user = await json<UserResponse>(response);
		expect(user).toMatchObject({
			name: "Grace",
			display_name: "G. Hopper",
			home_region: "iad",
			locale: "en-US",
			preferences: { theme: "dark", digest: { weekly: true } },
			version: 2,
		});
		expect(response.headers.get("etag")).toBe(`"user-${user.id}-v2"`);

		const stale = await patchMe({ ...person.headers, "if-match": etag }, { display_name: "x" });
		expect(stale.status).toBe(412);
		const unchanged = await patchMe(person.headers, { locale: "en-US" });
		expect((await json<UserResponse>(unchanged)).version).toBe(2);
		const cleared = await json<UserResponse>(await patchMe(person.headers, { display_name: null }));
		expect(cleared.display_name).toBe("Grace");
	});

	it("refuses identity, read-only and unknown fields (no mass assignment), and invalid values", async () => {
		const person = await personWith("", "strict");
		for (const body of [
			{ email: "evil@example.org" },
			{ sub: "someone-else" },
			{ version: 9 },
			{ role: "admin" },
			{ scope: "admin" },
			{},
			{ locale: "not a locale!" },
			{ home_region: "mars" },
			{ preferences: { big: "x".repeat(9000) } },
			{ display_name: "" },
		]) {
			const response = await patchMe(person.headers, body);
			expect(response.status, JSON.stringify(body).slice(0, 60)).toBe(400);
			await problem(response);
		}
		const user = await json<UserResponse>(await call("/v1/me", { headers: person.headers }));
		expect(user.sub).toBe(person.sub);
		expect(user.version).toBe(1);
	});
});

describe("GET /v1/users (admin)", () => {
	it("lists people with filters and a cursor", async () => {
		const tag = crypto.randomUUID().slice(0, 8);
		const subs: string[] = [];
		for (const region of ["sin", "sin", "jnb"]) {
			const person = await personWith("", "listed", {
				email: `${tag}-${subs.length}@example.org`,
				home_region: region,
			});
			subs.push(person.sub);
			expect((await call("/v1/me", { headers: person.headers })).status).toBe(200);
		}
		const admin = await personWith("admin", "admin");
		const seen: string[] = [];
		let cursor: string | null = null;
		do {
			const suffix: string = cursor ? `&cursor=${cursor}` : "";
			const page: UserPageResponse = await json<UserPageResponse>(
				await call(`/v1/users?q=${tag}&limit=2${suffix}`, { headers: admin.headers }),
			);
			seen.push(...page.data.map((u) => u.sub));
			cursor = page.next_cursor;
		} while (cursor);
		expect(seen).toEqual([...subs].reverse());

		const inSin = await json<UserPageResponse>(
			await call(`/v1/users?q=${tag}&home_region=sin`, { headers: admin.headers }),
		);
		expect(inSin.data.map((u) => u.sub).sort()).toEqual([subs[0], subs[1]].sort());
		const one = inSin.data[0] as UserResponse;
		expect((await call(`/v1/users/${one.id}`, { headers: admin.headers })).status).toBe(200);
		expect((await call(`/v1/users/${crypto.randomUUID()}`, { headers: admin.headers })).status).toBe(404);

		// Someone holding users:read only for jnb sees only jnb's people.
		const regional = await personWith("region:jnb users:read", "regional");
		const theirs = await json<UserPageResponse>(
			await call(`/v1/users?q=${tag}`, { headers: regional.headers }),
		);
		expect(theirs.data.map((u) => u.sub)).toEqual([subs[2]]);
		expect((await call(`/v1/users/${one.id}`, { headers: regional.headers })).status).toBe(404);

		const viewer = await personWith("viewer", "viewer");
		expect((await call("/v1/users", { headers: viewer.headers })).status).toBe(403);
		expect((await call("/v1/users?cursor=garbage", { headers: admin.headers })).status).toBe(400);
	});
});
