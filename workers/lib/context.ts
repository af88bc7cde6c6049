import type { Context } from "hono";
import type { EventPublisher } from "../../queues/producer.ts";
import type { Principal } from "../auth/principal.ts";
import type { Database } from "../db/client.ts";

/** The typed Hono context: bindings once, per-request services once (STYLE.md habit 4). */
export interface AppEnv {
	Bindings: Env;
	Variables: AppVariables;
}

export interface AppVariables {
	requestId: string;
	/** The serving region this request is answered from. */
	servingRegion: string;
	/** Opens this request's single Postgres connection on first use; closed after the response. */
	db: () => Database;
	events: EventPublisher;
	/** Set by the authenticate middleware on protected routes. */
	principal: Principal;
}

declare module "hono" {
	interface ContextVariableMap extends AppVariables {}
}

/** What background work needs of a request: its `waitUntil`. */
export interface Background {
	waitUntil(promise: Promise<unknown>): void;
}

/**
 * The request's `executionCtx` as a Background, or, for direct app calls without an execution context (some
 * tests), one that lets the promise run on its own: nothing outlives such a call to wait for it.
 */
export function backgroundOf(c: Context<AppEnv>): Background {
	try {
		return c.executionCtx;
	} catch {
		return { waitUntil: (promise) => void promise };
	}
}
