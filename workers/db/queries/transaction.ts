import { isDatabaseUnavailable, rootCause, sqlState, violatedConstraint } from "../../cache/origin.ts";
import { ApiError } from "../../lib/problem.ts";
import type { Database } from "../client.ts";
import type { Queryable } from "./pagination.ts";

/**
 * Runs a write in one Postgres transaction: everything or nothing. Errors become problems a client can act
 * on: the database being unreachable is a 503 (nothing was written), a constraint the request broke is a
 * 422 naming it (validation should have caught it first; this is the backstop), a serialization failure or
 * deadlock is a 409 to retry. An ApiError thrown inside rolls the transaction back and propagates as is.
 */
export async function inTransaction<T>(db: Database, write: (tx: Queryable) => Promise<T>): Promise<T> {
	try {
		return await db.transaction(write);
	} catch (error) {
		if (error instanceof ApiError) throw error;
		if (isDatabaseUnavailable(error)) {
			console.warn(JSON.stringify({ msg: "write refused: Postgres unreachable", error: rootCause(error) }));
			throw new ApiError(
				"unavailable",
				"The database cannot be reached; nothing was changed. Retry shortly",
				{
					headers: { "retry-after": "5" },
				},
			);
		}
		const code = sqlState(error);
		if (code === "40001" || code === "40P01") {
			throw new ApiError(
				"conflict",
				"A concurrent write got in the way; nothing was changed. Retry the request",
			);
		}
		if (code?.startsWith("23")) {
			const constraint = violatedConstraint(error);
			throw new ApiError(
				"unprocessable",
				`The change breaks the database constraint ${constraint ?? `(SQLSTATE ${code})`}; nothing was changed`,
			);
		}
		throw error;
	}
}
