/**
 * Stored responses of keyed writes. A key maps to the fingerprint of the request that first used it (SHA-256 of
 * method, canonical path and canonical body) and the response it got. Only writes that changed the ledger are
 * stored: a refused request leaves its key free, so the client can retry it once the cause is fixed.
 */

/** Keys are kept at least this long; the alarm sweeps older ones. */
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface StoredResponse {
	fingerprint: string;
	status: 200 | 201;
	body: string;
}

type KeyRow = { fingerprint: string; status: number; body: string };

export class IdempotencyStore {
	readonly sql: SqlStorage;

	constructor(sql: SqlStorage) {
		this.sql = sql;
	}

	lookup(key: string): StoredResponse | undefined {
		const row = this.sql
			.exec<KeyRow>("select fingerprint, status, body from idempotency_keys where key = ?", key)
			.toArray()[0];
		return row
			? { fingerprint: row.fingerprint, status: row.status as 200 | 201, body: row.body }
			: undefined;
	}

	save(key: string, response: StoredResponse, nowMs: number): void {
		this.sql.exec(
			"insert into idempotency_keys (key, fingerprint, status, body, created_at_ms) values (?, ?, ?, ?, ?)",
			key,
			response.fingerprint,
			response.status,
			response.body,
			nowMs,
		);
	}

	/** Deletes the keys older than the retention; returns how many. */
	sweep(nowMs: number): number {
		return this.sql.exec(
			"delete from idempotency_keys where created_at_ms < ?",
			nowMs - IDEMPOTENCY_RETENTION_MS,
		).rowsWritten;
	}

	/** When the oldest key may be swept, or null when there is none. */
	nextSweepMs(): number | null {
		const row = this.sql
			.exec<{ oldest: number | null }>("select min(created_at_ms) as oldest from idempotency_keys")
			.one();
		return row.oldest === null ? null : row.oldest + IDEMPOTENCY_RETENTION_MS;
	}
}
