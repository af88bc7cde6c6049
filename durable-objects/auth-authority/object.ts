import { DurableObject } from "cloudflare:workers";
import { eq, gt, sql } from "drizzle-orm";
import { digestsEqual } from "../../workers/auth/api-key-format.ts";
import { withDb } from "../../workers/db/client.ts";
import { apiKeys } from "../../workers/db/schema/api-keys.ts";
import { revocations } from "../../workers/db/schema/revocations.ts";

/** What the authority knows of an API key: enough to verify a request, nothing to list it. Times in ms. */
export interface ApiKeyState {
	id: string;
	ownerSub: string;
	scopes: string[];
	secretHash: string;
	previousSecretHash: string | null;
	previousValidUntil: number | null;
	expiresAt: number;
	revokedAt: number | null;
	rateLimitPerMinute: number | null;
	rateLimitBurst: number | null;
	/** Postgres row version: an older state never overwrites a newer one. */
	version: number;
}

export type KeyVerdict =
	| {
			valid: true;
			key: Pick<ApiKeyState, "id" | "ownerSub" | "scopes" | "rateLimitPerMinute" | "rateLimitBurst">;
			/** Until when this verdict may be reused without asking again (key expiry, rotation grace end). */
			validUntil: number;
	  }
	| { valid: false; reason: "unknown" | "mismatch" | "revoked" | "expired" };

export type RevocationKind = "jti" | "sub";

export interface RevocationEntry {
	seq: number;
	kind: RevocationKind;
	value: string;
	/** `sub`: tokens issued (iat) at or before this instant are refused. `jti`: when it was revoked. Ms. */
	revokedBefore: number;
	/** After this instant every token the entry targets has expired; the entry is dropped. Ms. */
	expiresAt: number;
}

export interface RevocationDelta {
	/** Changes when the authority's storage is new: a caller holding another epoch starts over. */
	epoch: string;
	/** The highest sequence number included; pass it back to get what came after. */
	seq: number;
	entries: RevocationEntry[];
	/** More entries follow; ask again with `seq`. */
	more: boolean;
}

/** The live revocation list is held in every isolate, so it is bounded; beyond it, revoke by subject. */
export const MAX_ACTIVE_REVOCATIONS = 50_000;
const DELTA_PAGE = 5_000;
/** Unknown key ids are remembered briefly so a flood of made-up keys does not reach Postgres. */
const NEGATIVE_TTL_MS = 60_000;
const MAX_NEGATIVE = 10_000;
/** Last-used times reach Postgres this long after first use at the latest. */
const FLUSH_DELAY_MS = 30_000;

/**
 * The single global authority for credentials: API key hashes and states, and token revocations. Every
 * authenticated request is checked against it (through a sub-second isolate cache), so a revocation is
 * effective everywhere within a second. It answers from its SQLite storage without touching Postgres;
 * Postgres is the durable record it is hydrated from (keys on first sight, revocations on first use) and
 * the place listings read. Key last-used times are flushed to Postgres by its alarm.
 */
export class AuthAuthority extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	private epoch = "";
	private readonly unknownKeys = new Map<string, number>();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		ctx.blockConcurrencyWhile(async () => {
			this.migrate();
		});
	}

	private migrate() {
		this.sql.exec(`create table if not exists meta (key text primary key, value text not null)`);
		this.sql.exec(`create table if not exists api_keys (
			id text primary key,
			owner_sub text not null,
			scopes text not null,
			secret_hash text not null,
			previous_secret_hash text,
			previous_valid_until integer,
			expires_at integer not null,
			revoked_at integer,
			rate_limit_per_minute integer,
			rate_limit_burst integer,
			version integer not null,
			last_used_at integer,
			last_used_dirty integer not null default 0
		)`);
		this.sql.exec(`create table if not exists revocations (
			seq integer primary key autoincrement,
			kind text not null,
			value text not null,
			revoked_before integer not null,
			expires_at integer not null,
			unique (kind, value)
		)`);
		const row = this.sql.exec<{ value: string }>(`select value from meta where key = 'epoch'`).toArray()[0];
		if (row) {
			this.epoch = row.value;
		} else {
			this.epoch = crypto.randomUUID();
			this.sql.exec(`insert into meta (key, value) values ('epoch', ?)`, this.epoch);
		}
	}

	// ---- API keys ---------------------------------------------------------------------------------------

	/** Checks a presented key (by id and the SHA-256 of the whole key) and records its use. */
	async verifyApiKey(id: string, keyHash: string): Promise<KeyVerdict> {
		const now = Date.now();
		let state = this.readKey(id);
		if (!state) {
			const until = this.unknownKeys.get(id);
			if (until !== undefined && until > now) return { valid: false, reason: "unknown" };
			state = await this.hydrateKey(id);
			if (!state) {
				this.rememberUnknown(id, now);
				return { valid: false, reason: "unknown" };
			}
		}
		if (state.revokedAt !== null) return { valid: false, reason: "revoked" };
		if (state.expiresAt <= now) return { valid: false, reason: "expired" };
		let validUntil = state.expiresAt;
		if (!digestsEqual(keyHash, state.secretHash)) {
			const inGrace =
				state.previousSecretHash !== null &&
				state.previousValidUntil !== null &&
				state.previousValidUntil > now &&
				digestsEqual(keyHash, state.previousSecretHash);
			if (!inGrace) return { valid: false, reason: "mismatch" };
			validUntil = Math.min(validUntil, state.previousValidUntil as number);
		}
		this.sql.exec(`update api_keys set last_used_at = ?, last_used_dirty = 1 where id = ?`, now, id);
		await this.scheduleFlush(now);
		return {
			valid: true,
			key: {
				id: state.id,
				ownerSub: state.ownerSub,
				scopes: state.scopes,
				rateLimitPerMinute: state.rateLimitPerMinute,
				rateLimitBurst: state.rateLimitBurst,
			},
			validUntil,
		};
	}

	/**
	 * Records a key's current state (created, rotated, revoked, limits changed). Idempotent; a state older
	 * than the one held (lower version) is ignored, so a late retry cannot undo a revocation.
	 */
	async putApiKey(state: ApiKeyState): Promise<void> {
		this.unknownKeys.delete(state.id);
		this.writeKey(state);
	}

	/** Test and operator aid: what the authority holds for a key (no secret material leaves it). */
	async describeApiKey(
		id: string,
	): Promise<{ revoked: boolean; lastUsedAt: number | null; version: number } | undefined> {
		const row = this.sql
			.exec<{ revoked_at: number | null; last_used_at: number | null; version: number }>(
				`select revoked_at, last_used_at, version from api_keys where id = ?`,
				id,
			)
			.toArray()[0];
		return row
			? { revoked: row.revoked_at !== null, lastUsedAt: row.last_used_at, version: row.version }
			: undefined;
	}

	private readKey(id: string): ApiKeyState | undefined {
		const row = this.sql
			.exec<{
				id: string;
				owner_sub: string;
				scopes: string;
				secret_hash: string;
				previous_secret_hash: string | null;
				previous_valid_until: number | null;
				expires_at: number;
				revoked_at: number | null;
				rate_limit_per_minute: number | null;
				rate_limit_burst: number | null;
				version: number;
			}>(`select * from api_keys where id = ?`, id)
			.toArray()[0];
		if (!row) return undefined;
		return {
			id: row.id,
			ownerSub: row.owner_sub,
			scopes: JSON.parse(row.scopes) as string[],
			secretHash: row.secret_hash,
			previousSecretHash: row.previous_secret_hash,
			previousValidUntil: row.previous_valid_until,
			expiresAt: row.expires_at,
			revokedAt: row.revoked_at,
			rateLimitPerMinute: row.rate_limit_per_minute,
			rateLimitBurst: row.rate_limit_burst,
			version: row.version,
		};
	}

	private writeKey(state: ApiKeyState) {
		this.sql.exec(
			`insert into api_keys (id, owner_sub, scopes, secret_hash, previous_secret_hash, previous_valid_until,
				expires_at, revoked_at, rate_limit_per_minute, rate_limit_burst, version)
			values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			on conflict (id) do update set
				owner_sub = excluded.owner_sub, scopes = excluded.scopes, secret_hash = excluded.secret_hash,
				previous_secret_hash = excluded.previous_secret_hash,
				previous_valid_until = excluded.previous_valid_until, expires_at = excluded.expires_at,
				revoked_at = coalesce(api_keys.revoked_at, excluded.revoked_at),
				rate_limit_per_minute = excluded.rate_limit_per_minute,
				rate_limit_burst = excluded.rate_limit_burst, version = excluded.version
			where excluded.version >= api_keys.version`,
			state.id,
			state.ownerSub,
			JSON.stringify(state.scopes),
			state.secretHash,
			state.previousSecretHash,
			state.previousValidUntil,
			state.expiresAt,
			state.revokedAt,
			state.rateLimitPerMinute,
			state.rateLimitBurst,
			state.version,
		);
	}

	/** A key this authority has never seen (e.g. created before it existed): read the record from Postgres. */
	private async hydrateKey(id: string): Promise<ApiKeyState | undefined> {
		const [row] = await withDb(this.env, (db) =>
			db.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1),
		);
		if (!row) return undefined;
		const state: ApiKeyState = {
			id: row.id,
			ownerSub: row.ownerSub,
			scopes: row.scopes,
			secretHash: row.secretHash,
			previousSecretHash: row.previousSecretHash,
			previousValidUntil: row.previousValidUntil?.getTime() ?? null,
			expiresAt: row.expiresAt.getTime(),
			revokedAt: row.revokedAt?.getTime() ?? null,
			rateLimitPerMinute: row.rateLimitPerMinute,
			rateLimitBurst: row.rateLimitBurst,
			version: row.version,
		};
		// Another call may have written a newer state while Postgres answered; the version guard keeps it.
		this.writeKey(state);
		return this.readKey(id);
	}

	private rememberUnknown(id: string, now: number) {
		if (this.unknownKeys.size >= MAX_NEGATIVE) {
			for (const [key, until] of this.unknownKeys) if (until <= now) this.unknownKeys.delete(key);
			if (this.unknownKeys.size >= MAX_NEGATIVE) this.unknownKeys.clear();
		}
		this.unknownKeys.set(id, now + NEGATIVE_TTL_MS);
	}

	// ---- Token revocations ----------------------------------------------------------------------------

	/**
	 * Adds (or moves forward) a revocation. Idempotent: revoking the same token again keeps one entry; revoking
	 * a subject again moves its cutoff to the later instant.
	 */
	async revoke(
		entry: Omit<RevocationEntry, "seq">,
	): Promise<{ entry: RevocationEntry } | { refused: string }> {
		await this.ensureRevocationsHydrated();
		const now = Date.now();
		const existing = this.sql
			.exec<{ revoked_before: number; expires_at: number }>(
				`select revoked_before, expires_at from revocations where kind = ? and value = ?`,
				entry.kind,
				entry.value,
			)
			.toArray()[0];
		if (!existing) {
			const active = this.sql
				.exec<{ n: number }>(`select count(*) as n from revocations where expires_at > ?`, now)
				.one().n;
			if (active >= MAX_ACTIVE_REVOCATIONS) {
				return {
					refused: `${active} revocations are active, the most the authority holds; revoke the subject instead`,
				};
			}
		}
		const revokedBefore = Math.max(existing?.revoked_before ?? 0, entry.revokedBefore);
		const expiresAt = Math.max(existing?.expires_at ?? 0, entry.expiresAt);
		// A fresh sequence number, so callers that already hold the entry see the change in their next delta.
		this.ctx.storage.transactionSync(() => {
			this.sql.exec(`delete from revocations where kind = ? and value = ?`, entry.kind, entry.value);
			this.sql.exec(
				`insert into revocations (kind, value, revoked_before, expires_at) values (?, ?, ?, ?)`,
				entry.kind,
				entry.value,
				revokedBefore,
				expiresAt,
			);
		});
		await this.scheduleFlush(now);
		const stored = this.sql
			.exec<{ seq: number; kind: RevocationKind; value: string; revoked_before: number; expires_at: number }>(
				`select * from revocations where kind = ? and value = ?`,
				entry.kind,
				entry.value,
			)
			.one();
		return { entry: toEntry(stored) };
	}

	/** The revocations added or changed after `seq` (all active ones when the caller's epoch differs). */
	async revocationsSince(seq: number, epoch?: string): Promise<RevocationDelta> {
		await this.ensureRevocationsHydrated();
		const from = epoch === this.epoch ? seq : 0;
		const rows = this.sql
			.exec<{ seq: number; kind: RevocationKind; value: string; revoked_before: number; expires_at: number }>(
				`select * from revocations where seq > ? and expires_at > ? order by seq limit ?`,
				from,
				Date.now(),
				DELTA_PAGE + 1,
			)
			.toArray();
		const more = rows.length > DELTA_PAGE;
		const entries = rows.slice(0, DELTA_PAGE).map(toEntry);
		const last = entries.at(-1)?.seq;
		const top =
			last ?? this.sql.exec<{ seq: number | null }>(`select max(seq) as seq from revocations`).one().seq ?? 0;
		return { epoch: this.epoch, seq: Math.max(from, top), entries, more };
	}

	/** On first use, load the revocations Postgres holds (this object's storage may be newer than they are). */
	private async ensureRevocationsHydrated() {
		const done = this.sql.exec(`select 1 from meta where key = 'revocations_hydrated'`).toArray().length > 0;
		if (done) return;
		const rows = await withDb(this.env, (db) =>
			db.select().from(revocations).where(gt(revocations.expiresAt, sql`now()`)),
		);
		this.ctx.storage.transactionSync(() => {
			for (const row of rows) {
				this.sql.exec(
					`insert into revocations (kind, value, revoked_before, expires_at) values (?, ?, ?, ?)
					on conflict (kind, value) do update set
						revoked_before = max(revocations.revoked_before, excluded.revoked_before),
						expires_at = max(revocations.expires_at, excluded.expires_at)`,
					row.kind,
					row.value,
					row.revokedBefore.getTime(),
					row.expiresAt.getTime(),
				);
			}
			this.sql.exec(
				`insert or ignore into meta (key, value) values ('revocations_hydrated', ?)`,
				String(Date.now()),
			);
		});
	}

	// ---- Housekeeping --------------------------------------------------------------------------------

	private async scheduleFlush(now: number) {
		const current = await this.ctx.storage.getAlarm();
		if (current === null) await this.ctx.storage.setAlarm(now + FLUSH_DELAY_MS);
	}

	/** Flushes key last-used times to Postgres and forgets revocations whose tokens have all expired. */
	override async alarm(): Promise<void> {
		const now = Date.now();
		this.sql.exec(`delete from revocations where expires_at <= ?`, now);
		const dirty = this.sql
			.exec<{ id: string; last_used_at: number }>(
				`select id, last_used_at from api_keys where last_used_dirty = 1 limit 500`,
			)
			.toArray();
		if (dirty.length > 0) {
			await withDb(this.env, async (db) => {
				for (const { id, last_used_at } of dirty) {
					const usedAt = new Date(last_used_at);
					await db
						.update(apiKeys)
						.set({ lastUsedAt: sql`greatest(coalesce(${apiKeys.lastUsedAt}, ${usedAt}), ${usedAt})` })
						.where(eq(apiKeys.id, id));
				}
			});
			for (const { id, last_used_at } of dirty) {
				this.sql.exec(
					`update api_keys set last_used_dirty = 0 where id = ? and last_used_at = ?`,
					id,
					last_used_at,
				);
			}
		}
		const pending = this.sql
			.exec<{ n: number }>(`select count(*) as n from api_keys where last_used_dirty = 1`)
			.one().n;
		if (pending > 0) await this.ctx.storage.setAlarm(now + FLUSH_DELAY_MS);
	}
}

function toEntry(row: {
	seq: number;
	kind: RevocationKind;
	value: string;
	revoked_before: number;
	expires_at: number;
}): RevocationEntry {
	return {
		seq: row.seq,
		kind: row.kind,
		value: row.value,
		revokedBefore: row.revoked_before,
		expiresAt: row.expires_at,
	};
}
