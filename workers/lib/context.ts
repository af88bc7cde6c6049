import type { Principal } from "../auth/principal.ts";
import type { Database } from "../db/client.ts";
import type { EventPublisher } from "../../queues/producer.ts";

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
