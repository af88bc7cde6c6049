import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../workers/db/client.ts";

/** A drizzle transaction on the consumer's (or request's) connection. */
export type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];
/** Anything that runs queries: the connection itself or a transaction on it. */
export type Executor = Database | Tx;

/**
 * A JS array as ONE Postgres array parameter. (An array interpolated into drizzle's `sql` becomes a
 * parenthesised list of parameters, which `= any(...)` and `unnest(...)` cannot take.)
 */
export function textArray(values: readonly (string | null)[]): SQL {
	return sql`${sql.param(values)}::text[]`;
}
