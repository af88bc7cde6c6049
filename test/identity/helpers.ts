import { env } from "cloudflare:test";
import { expect } from "vitest";
import type { CloudEvent } from "../../queues/envelope.ts";
import type { ApiKeyWithSecretResponse } from "../../workers/routes/api-keys/schema.ts";
import { tokenFor, uniqueSub } from "../support/auth.ts";
import { call } from "../support/http.ts";

export interface Session {
	sub: string;
	headers: Record<string, string>;
}

/** A person with a fresh subject (their own rate-limit bucket and user record) and the given scope. */
export async function personWith(
	scope: string,
	label = "person",
	claims: Record<string, unknown> = {},
): Promise<Session> {
	const sub = uniqueSub(label);
	return { sub, headers: { authorization: `Bearer ${await tokenFor(scope, { sub, claims })}` } };
}

/** Creates an API key through the API and returns it (failing the test when creation fails). */
export async function createKey(
	as: Session,
	body: Record<string, unknown> = {},
	envOverrides: Partial<Env> = {},
): Promise<ApiKeyWithSecretResponse> {
	const response = await call(
		"/v1/api-keys",
		{ method: "POST", headers: as.headers, json: { name: "test key", scopes: ["partner"], ...body } },
		envOverrides,
	);
	const created = (await response.json()) as ApiKeyWithSecretResponse;
	expect(response.status, JSON.stringify(created)).toBe(201);
	return created;
}

export const withKey = (key: string) => ({ "x-api-key": key });

/**
 * Queue bindings that record what is sent instead of delivering it: pass `overrides` to `call` and read
 * `events` (deduplicated by id: one event goes to several consumer queues).
 */
export function eventRecorder() {
	const seen = new Map<string, CloudEvent>();
	const queue = {
		async send(body: unknown) {
			const event = body as CloudEvent;
			seen.set(event.id, event);
		},
		async sendBatch(messages: Iterable<{ body: unknown }>) {
			for (const { body } of messages) {
				const event = body as CloudEvent;
				seen.set(event.id, event);
			}
		},
	};
	const overrides: Record<string, unknown> = {};
	for (const name of Object.keys(env)) if (name.endsWith("_QUEUE")) overrides[name] = queue;
	return {
		overrides: overrides as Partial<Env>,
		get events() {
			return [...seen.values()];
		},
		ofType(type: CloudEvent["type"]) {
			return [...seen.values()].filter((e) => e.type === type);
		},
	};
}

/**
 * Calls `request` every 50 ms until `done(response)` holds; returns how long that took (ms). Fails after
 * `withinMs`: the measure of "effective everywhere within a second".
 */
export async function msUntil(
	request: () => Promise<Response>,
	done: (response: Response) => boolean,
	withinMs = 1_000,
): Promise<number> {
	const started = Date.now();
	for (;;) {
		const response = await request();
		const elapsed = Date.now() - started;
		if (done(response)) return elapsed;
		if (elapsed > withinMs) throw new Error(`still ${response.status} after ${elapsed} ms`);
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

export async function problem(response: Response): Promise<Record<string, unknown>> {
	expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
	return (await response.json()) as Record<string, unknown>;
}
