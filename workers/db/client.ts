import { neonConfig, Pool } from "@neondatabase/serverless";
import { createTableRelationsHelpers, extractTablesRelationalConfig } from "drizzle-orm";
import { NeonDatabase, NeonSession } from "drizzle-orm/neon-serverless";
import { PgDialect } from "drizzle-orm/pg-core";
import * as schema from "./schema/index.ts";

export type Database = NeonDatabase<typeof schema>;

export interface DbHandle {
	db: Database;
	pool: Pool;
	close(): Promise<void>;
}

type Relational = ConstructorParameters<typeof NeonDatabase>[2];
let shared: { dialect: PgDialect; relational: Relational } | undefined;

/**
 * What `drizzle({ client, schema, casing })` derives from the schema on every call, derived once per isolate: the
 * relational config of ~40 tables (it cost ~5 % of the isolate's CPU when every queue batch, alarm and write
 * rebuilt it) and the dialect with its column-name cache. Both depend only on the schema, never on the request.
 * This is drizzle's own `construct()` for the neon-serverless driver, with those two hoisted out.
 */
function isolateShared(): { dialect: PgDialect; relational: Relational } {
	if (!shared) {
		const tables = extractTablesRelationalConfig(schema, createTableRelationsHelpers);
		shared = {
			dialect: new PgDialect({ casing: "snake_case" }),
			relational: { fullSchema: schema, schema: tables.tables, tableNamesMap: tables.tableNamesMap },
		};
	}
	return shared;
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
	const { dialect, relational } = isolateShared();
	const db = new NeonDatabase(
		dialect,
		new NeonSession(pool, dialect, relational, {}),
		relational,
	) as Database;
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
