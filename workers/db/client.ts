import { neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import * as schema from "./schema/index.ts";

export type Database = NeonDatabase<typeof schema>;

export interface DbHandle {
	db: Database;
	pool: Pool;
	close(): Promise<void>;
}

/**
 * Opens one Postgres connection for one request (a Worker cannot keep a pool across requests). Locally
 * `NEON_WS_PROXY` points the driver at the dev stack's WebSocket proxy; in production it is unset and the
 * driver speaks to Neon's proxy over TLS.
 */
export function openDb(env: Pick<Env, "DATABASE_URL" | "NEON_WS_PROXY">): DbHandle {
	if (env.NEON_WS_PROXY) {
		// The string form: the driver appends `?address=host:port` itself.
		neonConfig.wsProxy = env.NEON_WS_PROXY;
		neonConfig.useSecureWebSocket = false;
		neonConfig.pipelineTLS = false;
		neonConfig.pipelineConnect = false;
	}
	const pool = new Pool({ connectionString: env.DATABASE_URL, max: 1, connectionTimeoutMillis: 5_000 });
	// Closing the pool emits 'Network connection lost' on the idle client; an unhandled 'error' would crash.
	pool.on("error", () => {});
	const db = drizzle({ client: pool, schema, casing: "snake_case" });
	let closed = false;
	return {
		db,
		pool,
		close: async () => {
			if (closed) return;
			closed = true;
			await pool.end().catch(() => {});
		},
	};
}

/** Runs `fn` with a connection and always releases it. For code outside a request (queues, alarms). */
export async function withDb<T>(
	env: Pick<Env, "DATABASE_URL" | "NEON_WS_PROXY">,
	fn: (db: Database) => Promise<T>,
): Promise<T> {
	const handle = openDb(env);
	try {
		return await fn(handle.db);
	} finally {
		await handle.close();
	}
}
