import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../workers/index.ts";

/**
 * Calls the worker's fetch handler inside workerd, exactly as the runtime would, and waits for its
 * waitUntil work (cache fills, connection close) before returning. `envOverrides` simulates a broken
 * dependency, e.g. a stopped database.
 */
export async function call(
	path: string,
	init: RequestInit & { json?: unknown } = {},
	envOverrides: Partial<Env> = {},
): Promise<Response> {
	const headers = new Headers(init.headers);
	let body = init.body;
	if (init.json !== undefined) {
		headers.set("content-type", "application/json");
		body = JSON.stringify(init.json);
	}
	const request = new Request(`https://edge.test${path}`, { ...init, headers, body }) as Request<
		unknown,
		IncomingRequestCfProperties
	>;
	const ctx = createExecutionContext();
	const response = await worker.fetch(request, { ...env, ...envOverrides }, ctx);
	await waitOnExecutionContext(ctx);
	return response;
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
	return (await response.json()) as T;
}

/** A DATABASE_URL nothing listens on: the health check and cache fallbacks see a stopped database. */
export const STOPPED_DATABASE = { DATABASE_URL: "postgres://postgres@127.0.0.1:1/postgres" } as Partial<Env>;
