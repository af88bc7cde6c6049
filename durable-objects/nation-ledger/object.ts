import { DurableObject } from "cloudflare:workers";
import type { z } from "zod";
import { type Database, type DbHandle, openDb } from "../../workers/db/client.ts";
import { ACCOUNTS, type AccountCode, CHART_OF_ACCOUNTS } from "../../workers/domain/ledger/accounts.ts";
import {
	applyMovement,
	availableBalance,
	type BalanceRefusal,
	type BalanceSheet,
	balancesDigest,
	cloneBalanceSheet,
	type Movement,
	postedBalance,
} from "../../workers/domain/ledger/balances.ts";
import { type CanonicalValue, canonicalJson, sha256Hex } from "../../workers/domain/ledger/canonical.ts";
import { hashEntry, type LedgerEntry, type UnhashedEntry } from "../../workers/domain/ledger/entry.ts";
import { type LedgerNation, nationByCode } from "../../workers/domain/ledger/nations.ts";
import { type LedgerRefusal, refusal, type TransferError } from "../../workers/domain/ledger/refusals.ts";
import {
	AnyTransferId,
	BatchInput,
	IdempotencyKey,
	PostInput,
	ReverseInput,
	TransferInput,
	VoidInput,
} from "../../workers/domain/ledger/transfer-input.ts";
import type {
	BatchView,
	EntriesPage,
	EntriesQuery,
	LedgerHead,
	LedgerView,
	ProjectionStatus,
	TransferView,
} from "../../workers/domain/ledger/views.ts";
import { IdempotencyStore } from "./idempotency.ts";
import { type ProjectionDatabase, publishLedgerEvents, writeProjection } from "./projection.ts";
import { migrateLedgerSchema } from "./schema.ts";
import { initialStatus, LedgerStore, toTransferView } from "./store.ts";

/** Options of every write. */
export interface WriteOptions {
	/**
	 * Makes the write idempotent: a retry with the same key and the same request gets the first response again;
	 * the same key with another request is refused. Kept at least 24 hours.
	 */
	idempotencyKey?: string;
	/**
	 * Whose key it is: keys are kept per caller, so two callers that happen to choose the same key never see each
	 * other's responses or refusals. The HTTP API passes the principal; callers inside the system (sagas,
	 * schedules) pass nothing and share the system's namespace, with keys derived from what they record.
	 */
	caller?: string;
}

/** The outcome of a write: the response to give (first or replayed), or why the ledger refused it. */
export type LedgerWriteResult<T> =
	| { ok: true; status: 200 | 201; body: T; replayed: boolean }
	| { ok: false; refusal: LedgerRefusal };

interface Plan<T> {
	entries: LedgerEntry[];
	sheet: BalanceSheet;
	touched: Set<AccountCode>;
	status: 200 | 201;
	body: T;
}

/** Entries projected to Postgres per round trip (one statement of a fixed 18 parameters, whatever the count). */
const DRAIN_BATCH = 500;
/**
 * An alarm keeps draining while entries keep arriving, for up to this long, then yields to a fresh alarm. Ending
 * the alarm as soon as a round found less than a full batch cost a new alarm per round under steady load (~200 ms
 * between drains here), which was most of the projection's lag.
 */
const DRAIN_BUDGET_MS = 5_000;
/** After a short batch the drain waits this long for more, so a busy ledger projects in batches, not one by one. */
const DRAIN_COALESCE_MS = 100;
const EXPIRE_BATCH = 500;
/** A drain that has not finished by then counts as failed (a hung connection must not stop the projection). */
const DRAIN_TIMEOUT_MS = 20_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 60_000;
const DEFAULT_ENTRIES_LIMIT = 100;
const MAX_ENTRIES_LIMIT = 1_000;

/**
 * One nation's ledger (`idFromName(iso2)`): double-entry transfers with balance constraints, two-phase
 * transfers, atomic batches and idempotent writes, recorded as a hash-chained log in the object's SQLite storage.
 * The entries after the projection watermark are the outbox: the alarm drains them into Postgres and announces
 * them on the event queue.
 *
 * Every write runs synchronously from validation to commit (SQLite calls and hashing never yield), so the
 * object's input gate serialises requests: a concurrent duplicate sees the first request's stored response.
 * Balances are kept in memory as well as in SQLite; a request plans on a copy and the copy replaces them only
 * after its transaction commits.
 */
export class NationLedger extends DurableObject<Env> {
	private readonly store: LedgerStore;
	private readonly keys: IdempotencyStore;
	/** The nation this ledger belongs to; undefined for an object not named after a nation (the health probe). */
	private readonly nation: LedgerNation | undefined;
	private sheet!: BalanceSheet;
	private tip!: { sequence: number; hash: string; timestamp_ms: number | null };
	private alarmAt: number | null = null;
	/**
	 * No pending transfer expires before this (null: none has a timeout). Never later than the truth, so
	 * `expireDue` can skip its query on the hot path; a hold posted or voided early only makes it conservative.
	 */
	private nextExpiryMs: number | null = null;
	private draining = false;
	private projection = {
		consecutiveFailures: 0,
		lastError: null as string | null,
		lastProjectedAtMs: null as number | null,
		nextAttemptAtMs: null as number | null,
	};
	/** Where the outbox drains to: the worker's database. Tests point it at a stopped one to simulate an outage. */
	projectionDatabase: ProjectionDatabase;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.store = new LedgerStore(ctx.storage.sql);
		this.keys = new IdempotencyStore(ctx.storage.sql);
		const named = ctx.id.name ? nationByCode(ctx.id.name) : undefined;
		this.nation = named?.iso2 === ctx.id.name ? named : undefined;
		this.projectionDatabase = { DATABASE_URL: env.DATABASE_URL, NEON_WS_PROXY: env.NEON_WS_PROXY };
		ctx.blockConcurrencyWhile(async () => {
			migrateLedgerSchema(ctx.storage);
			this.sheet = this.store.loadBalances();
			this.tip = this.store.head();
			this.nextExpiryMs = this.store.nextExpiryMs();
			this.alarmAt = await ctx.storage.getAlarm();
			// An object restarted with work pending (outbox, timeouts) must not wait for the next write to resume it.
			if (this.nation && this.alarmAt === null) await this.scheduleFromState();
		});
	}

	/** Liveness probe used by /v1/health: proves the object runs and its storage answers. */
	async ping(): Promise<{ ok: true }> {
		this.ctx.storage.sql.exec("select 1").toArray();
		return { ok: true };
	}

	// ---- writes ------------------------------------------------------------------------------------------

	/** Creates one transfer (posted at once, or pending when `pending: true`). */
	async transfer(input: unknown, options: WriteOptions = {}): Promise<LedgerWriteResult<TransferView>> {
		const parsed = TransferInput.safeParse(input);
		if (!parsed.success) return invalid(parsed.error);
		return this.write("transfers", parsed.data, options, (nation, now) => {
			const planned = this.planCreate(nation, [parsed.data], now);
			if (!("entries" in planned)) return planned;
			const [view] = planned.body.transfers;
			return { ...planned, body: view as TransferView };
		});
	}

	/** Creates up to 1,000 transfers in order, all or none; a refusal lists every refused item. */
	async batch(inputs: unknown[], options: WriteOptions = {}): Promise<LedgerWriteResult<BatchView>> {
		const parsed = BatchInput.safeParse({ transfers: inputs });
		if (!parsed.success) return invalid(parsed.error);
		return this.write("transfers", parsed.data, options, (nation, now) =>
			this.planCreate(nation, parsed.data.transfers, now, true),
		);
	}

	/** Posts a pending transfer: all of its amount, or `amount` of it (the rest of the hold is released). */
	async post(
		pendingId: string,
		input: unknown = {},
		options: WriteOptions = {},
	): Promise<LedgerWriteResult<TransferView>> {
		const parsed = PostInput.safeParse(input);
		if (!parsed.success) return invalid(parsed.error);
		return this.resolvePending(pendingId, "post", parsed.data, options);
	}

	/** Voids a pending transfer, releasing its hold. */
	async void(
		pendingId: string,
		input: unknown = {},
		options: WriteOptions = {},
	): Promise<LedgerWriteResult<TransferView>> {
		const parsed = VoidInput.safeParse(input);
		if (!parsed.success) return invalid(parsed.error);
		return this.resolvePending(pendingId, "void", parsed.data, options);
	}

	/** Reverses a posted transfer with a new transfer of the same amount in the other direction. */
	async reverse(
		transferId: string,
		input: unknown = {},
		options: WriteOptions = {},
	): Promise<LedgerWriteResult<TransferView>> {
		const parsed = ReverseInput.safeParse(input);
		if (!parsed.success) return invalid(parsed.error);
		const id = AnyTransferId.safeParse(transferId);
		if (!id.success) return notFound(transferId);
		return this.write(`transfers/${transferId}/reverse`, parsed.data, options, (nation, now) =>
			this.planReverse(nation, transferId, parsed.data.metadata ?? {}, now),
		);
	}

	// ---- reads -------------------------------------------------------------------------------------------

	/** Balances per account, the head of the hash chain and how far the Postgres projection lags. */
	async balances(): Promise<LedgerView> {
		const nation = this.requireNation();
		const now = Date.now();
		this.expireDue(nation, now);
		const totals = { debits_posted: 0, credits_posted: 0, debits_pending: 0, credits_pending: 0 };
		const accounts = CHART_OF_ACCOUNTS.map((def) => {
			const b = this.sheet[def.code];
			totals.debits_posted += b.debits_posted;
			totals.credits_posted += b.credits_posted;
			totals.debits_pending += b.debits_pending;
			totals.credits_pending += b.credits_pending;
			return {
				code: def.code,
				number: def.number,
				name: def.name,
				class: def.class,
				normal_balance: def.normal_balance,
				constraint: def.constraint,
				...b,
				balance: postedBalance(def.code, b),
				available: availableBalance(def.code, b),
			};
		});
		return {
			nation: nation.iso2,
			currency: "USD",
			accounts,
			totals,
			head: this.headView(),
			projection: this.projectionStatus(now),
		};
	}

	/** The head of the hash chain: last sequence and hash, and a digest of the balances after it. */
	async head(): Promise<LedgerHead> {
		const nation = this.requireNation();
		this.expireDue(nation, Date.now());
		return this.headView();
	}

	/** One transfer (or second phase) by id, with its current status; null when there is none. */
	async getTransfer(id: string): Promise<TransferView | null> {
		const nation = this.requireNation();
		this.expireDue(nation, Date.now());
		const entry = this.store.entryById(nation.iso2, id);
		return entry ? this.store.view(entry) : null;
	}

	/** Entries in sequence order, filtered; `next_from_seq` continues the page. */
	async entries(query: EntriesQuery = {}): Promise<EntriesPage> {
		const nation = this.requireNation();
		this.expireDue(nation, Date.now());
		const limit = Math.min(Math.max(Math.trunc(query.limit ?? DEFAULT_ENTRIES_LIMIT), 1), MAX_ENTRIES_LIMIT);
		const where: string[] = [];
		const bindings: (string | number)[] = [];
		const add = (clause: string, ...values: (string | number)[]) => {
			where.push(clause);
			bindings.push(...values);
		};
		if (query.fromSeq !== undefined) add("sequence >= ?", query.fromSeq);
		if (query.toSeq !== undefined) add("sequence <= ?", query.toSeq);
		if (query.kind !== undefined) add("kind = ?", query.kind);
		if (query.phase !== undefined) add("phase = ?", query.phase);
		if (query.account !== undefined)
			add("(debit_account = ? or credit_account = ?)", query.account, query.account);
		if (query.sinceMs !== undefined) add("timestamp_ms >= ?", query.sinceMs);
		if (query.untilMs !== undefined) add("timestamp_ms < ?", query.untilMs);
		const rows = this.store.entries(nation.iso2, where, bindings, limit + 1);
		const more = rows.length > limit;
		const page = more ? rows.slice(0, limit) : rows;
		return { entries: page, next_from_seq: more ? (page.at(-1)?.sequence ?? 0) + 1 : null };
	}

	// ---- alarm: timeouts, key sweep, outbox drain ------------------------------------------------------

	override async alarm(): Promise<void> {
		this.alarmAt = null;
		const nation = this.nation;
		if (!nation) return;
		this.draining = true;
		try {
			const now = Date.now();
			this.expireDue(nation, now);
			this.keys.sweep(now);
			await this.drain(nation);
		} finally {
			this.draining = false;
			await this.scheduleFromState();
		}
	}

	/**
	 * Sends the outbox to Postgres and the event queue, oldest first. On failure the watermark stays, the ledger keeps
	 * accepting writes, and the next attempt waits with exponential backoff (with jitter) up to a minute.
	 */
	private async drain(nation: LedgerNation): Promise<void> {
		// One connection for the whole alarm, opened when there is something to project: a busy ledger drains round
		// after round over it (connecting for each round cost 4-5 round trips, and against a SCRAM-authenticated
		// server ~16 ms of CPU), and it closes when the alarm ends, so no connection outlives the drain.
		let connection: DbHandle | undefined;
		try {
			await this.drainRounds(nation, () => {
				connection ??= openDb(this.projectionDatabase);
				return connection.db;
			});
		} finally {
			await connection?.close();
		}
	}

	private async drainRounds(nation: LedgerNation, db: () => Database): Promise<void> {
		const until = Date.now() + DRAIN_BUDGET_MS;
		while (Date.now() < until) {
			const batch = this.store.unprojected(nation.iso2, DRAIN_BATCH);
			const last = batch.at(-1);
			if (!last) break;
			try {
				const backlog = Math.max(0, this.tip.sequence - last.sequence);
				await withTimeout(DRAIN_TIMEOUT_MS, async () => {
					// Side by side: both are idempotent, and the watermark moves only once both succeeded.
					await Promise.all([
						writeProjection(db(), nation.iso2, batch, backlog),
						publishLedgerEvents(this.env, nation.iso2, nation.serving_region, batch),
					]);
				});
				// Only forward: a drain that overlapped a newer one (it cannot, the alarm is single) never rewinds.
				if (last.sequence > this.store.projectedSequence()) this.store.setProjectedSequence(last.sequence);
				this.projection = {
					consecutiveFailures: 0,
					lastError: null,
					lastProjectedAtMs: Date.now(),
					nextAttemptAtMs: null,
				};
			} catch (error) {
				const failures = this.projection.consecutiveFailures + 1;
				const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
				const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
				const message = rootMessage(error);
				this.projection = {
					consecutiveFailures: failures,
					lastError: message,
					lastProjectedAtMs: this.projection.lastProjectedAtMs,
					nextAttemptAtMs: Date.now() + delay,
				};
				console.error(
					JSON.stringify({
						msg: "ledger projection failed; will retry",
						nation: nation.iso2,
						attempt: failures,
						retry_in_ms: delay,
						error: message,
					}),
				);
				return;
			}
			if (batch.length < DRAIN_BATCH) await new Promise((resolve) => setTimeout(resolve, DRAIN_COALESCE_MS));
		}
	}

	// ---- internals -------------------------------------------------------------------------------------

	private requireNation(): LedgerNation {
		if (!this.nation) throw new Error(`no ledger exists for "${this.ctx.id.name ?? this.ctx.id}"`);
		return this.nation;
	}

	/**
	 * The write path shared by every operation: idempotency lookup, plan on a copy of the balances, then one
	 * SQLite transaction for the entries, the balances and the stored response.
	 */
	private async write<T>(
		operation: string,
		body: CanonicalValue,
		options: WriteOptions,
		plan: (nation: LedgerNation, nowMs: number) => Plan<T> | LedgerRefusal,
	): Promise<LedgerWriteResult<T>> {
		const nation = this.nation;
		if (!nation) {
			return {
				ok: false,
				refusal: refusal("nation_not_found", `No nation's ledger is named "${this.ctx.id.name}"`),
			};
		}
		const now = Date.now();
		this.expireDue(nation, now);

		const key = options.idempotencyKey;
		let fingerprint: string | undefined;
		if (key !== undefined) {
			const checked = IdempotencyKey.safeParse(key);
			if (!checked.success) {
				return {
					ok: false,
					refusal: refusal("invalid_input", "The Idempotency-Key is invalid", {
						errors: [
							{
								path: ["Idempotency-Key"],
								message: checked.error.issues[0]?.message ?? "invalid",
								code: "invalid_format",
							},
						],
					}),
				};
			}
			fingerprint = sha256Hex(`POST /v1/nations/${nation.iso2}/ledger/${operation}\n${canonicalJson(body)}`);
			const stored = this.keys.lookup(namespacedKey(key, options.caller));
			if (stored) {
				if (stored.fingerprint !== fingerprint) {
					return {
						ok: false,
						refusal: refusal(
							"idempotency_key_reused",
							"This Idempotency-Key was already used with a different request (method, path or body); use a new key for a new request",
						),
					};
				}
				return { ok: true, status: stored.status, body: JSON.parse(stored.body) as T, replayed: true };
			}
		}

		const planned = plan(nation, now);
		if (!("entries" in planned)) return { ok: false, refusal: planned };
		this.ctx.storage.transactionSync(() => {
			this.store.insertEntries(planned.entries);
			this.store.saveBalances(planned.sheet, planned.touched);
			if (key !== undefined && fingerprint !== undefined) {
				this.keys.save(
					namespacedKey(key, options.caller),
					{ fingerprint, status: planned.status, body: JSON.stringify(planned.body) },
					now,
				);
			}
		});
		this.commit(planned);
		await this.scheduleAfterWrite(planned.entries, now);
		return { ok: true, status: planned.status, body: planned.body, replayed: false };
	}

	private commit(plan: { entries: LedgerEntry[]; sheet: BalanceSheet }): void {
		this.sheet = plan.sheet;
		const last = plan.entries.at(-1);
		if (last) this.tip = { sequence: last.sequence, hash: last.hash, timestamp_ms: last.timestamp_ms };
		for (const entry of plan.entries) {
			if (
				entry.expires_at_ms !== null &&
				(this.nextExpiryMs === null || entry.expires_at_ms < this.nextExpiryMs)
			)
				this.nextExpiryMs = entry.expires_at_ms;
		}
	}

	/** A sequencer for the entries of one plan: numbers, timestamps and chains them. */
	private chain(nation: LedgerNation, nowMs: number) {
		let sequence = this.tip.sequence;
		let prevHash = this.tip.hash;
		// Timestamps never go backwards along the sequence, even if the clock does.
		const timestamp = Math.max(nowMs, this.tip.timestamp_ms ?? 0);
		return {
			timestamp,
			seal(fields: Omit<UnhashedEntry, "nation" | "sequence" | "prev_hash" | "timestamp_ms">): LedgerEntry {
				const unhashed: UnhashedEntry = {
					...fields,
					nation: nation.iso2,
					sequence: sequence + 1,
					timestamp_ms: timestamp,
					prev_hash: prevHash,
				};
				const entry = { ...unhashed, hash: hashEntry(unhashed) };
				sequence = entry.sequence;
				prevHash = entry.hash;
				return entry;
			},
		};
	}

	private planCreate(
		nation: LedgerNation,
		items: readonly TransferInput[],
		now: number,
		asBatch = false,
	): Plan<BatchView> | LedgerRefusal {
		const sheet = cloneBalanceSheet(this.sheet);
		const chain = this.chain(nation, now);
		const entries: LedgerEntry[] = [];
		const views: TransferView[] = [];
		const errors: TransferError[] = [];
		const touched = new Set<AccountCode>();
		const seen = new Set<string>();
		items.forEach((item, index) => {
			const id = item.id ?? `tr_${crypto.randomUUID().replaceAll("-", "")}`;
			if (seen.has(id)) {
				errors.push({
					index,
					id,
					reason: "id_used_twice_in_batch",
					detail: `Transfer id ${id} appears twice in the batch`,
				});
				return;
			}
			seen.add(id);
			const existing = item.id === undefined ? undefined : this.store.entryById(nation.iso2, id);
			if (existing) {
				if (sameTransfer(existing, item)) views.push(this.store.view(existing));
				else {
					errors.push({
						index,
						id,
						reason: "id_already_exists_with_different_fields",
						detail: `Transfer ${id} already exists (sequence ${existing.sequence}) with different fields; transfers are immutable, so choose a new id`,
					});
				}
				return;
			}
			const movement: Movement = {
				effect: item.pending ? "reserve" : "post",
				debit: item.debit_account,
				credit: item.credit_account,
				amount: item.amount,
			};
			const refused = applyMovement(sheet, movement);
			if (refused) {
				errors.push({ index, id, reason: refused, detail: describeRefusal(refused, movement, sheet) });
				return;
			}
			touched.add(item.debit_account);
			touched.add(item.credit_account);
			const entry = chain.seal({
				id,
				kind: item.kind,
				phase: item.pending ? "pending" : "single",
				debit_account: item.debit_account,
				credit_account: item.credit_account,
				amount: item.amount,
				pending_id: null,
				reverses_id: null,
				reference: referenceOf(item.reference),
				metadata: item.metadata ?? {},
				expires_at_ms:
					item.pending && item.timeout_seconds !== undefined
						? chain.timestamp + item.timeout_seconds * 1000
						: null,
			});
			entries.push(entry);
			views.push(toTransferView(entry, initialStatus(entry.phase)));
		});
		const [first] = errors;
		if (first) {
			if (!asBatch) return refusal(first.reason, first.detail);
			return refusal(
				"batch_refused",
				`${errors.length} of ${items.length} transfers were refused, so none was applied; see transfer_errors`,
				{ transfer_errors: errors },
			);
		}
		return {
			entries,
			sheet,
			touched,
			status: entries.length > 0 ? 201 : 200,
			body: { transfers: views, created: entries.length },
		};
	}

	private resolvePending(
		pendingId: string,
		phase: "post" | "void",
		input: { amount?: number; metadata?: Record<string, string> },
		options: WriteOptions,
	): Promise<LedgerWriteResult<TransferView>> {
		if (!AnyTransferId.safeParse(pendingId).success) return Promise.resolve(notFound(pendingId));
		return this.write(`transfers/${pendingId}/${phase}`, input, options, (nation, now) => {
			const pending = this.store.entryById(nation.iso2, pendingId);
			if (!pending)
				return refusal("transfer_not_found", `No transfer ${pendingId} in ${nation.iso2}'s ledger`);
			if (pending.phase !== "pending") {
				return refusal(
					"transfer_not_pending",
					`Transfer ${pendingId} is not a pending transfer (it is a ${pending.phase} entry); only pending transfers can be posted or voided`,
				);
			}
			const state = this.store.pendingState(pendingId);
			if (state?.state === "posted") {
				return refusal(
					"pending_transfer_already_posted",
					`Pending transfer ${pendingId} was already posted by ${state.resolved_by}`,
				);
			}
			if (state?.state === "voided") {
				return refusal(
					"pending_transfer_already_voided",
					`Pending transfer ${pendingId} was already voided by ${state.resolved_by}`,
				);
			}
			if (state?.state === "expired") {
				return refusal(
					"pending_transfer_expired",
					`Pending transfer ${pendingId} expired at ${new Date(pending.expires_at_ms ?? 0).toISOString()} and its hold was released`,
				);
			}
			const amount = phase === "post" ? (input.amount ?? pending.amount) : pending.amount;
			if (amount > pending.amount) {
				return refusal(
					"exceeds_pending_transfer_amount",
					`Cannot post ${amount} cents: pending transfer ${pendingId} holds ${pending.amount}`,
				);
			}
			const sheet = cloneBalanceSheet(this.sheet);
			const movement: Movement =
				phase === "post"
					? {
							effect: "post_pending",
							debit: pending.debit_account,
							credit: pending.credit_account,
							amount,
							held: pending.amount,
						}
					: {
							effect: "release",
							debit: pending.debit_account,
							credit: pending.credit_account,
							held: pending.amount,
						};
			const refused = applyMovement(sheet, movement);
			if (refused) return refusal(refused, describeRefusal(refused, movement, sheet));
			const entry = this.chain(nation, now).seal({
				id: `${pendingId}~${phase}`,
				kind: pending.kind,
				phase,
				debit_account: pending.debit_account,
				credit_account: pending.credit_account,
				amount,
				pending_id: pendingId,
				reverses_id: null,
				reference: pending.reference,
				metadata: input.metadata ?? {},
				expires_at_ms: null,
			});
			return {
				entries: [entry],
				sheet,
				touched: new Set([pending.debit_account, pending.credit_account]),
				status: 201,
				body: toTransferView(entry, initialStatus(phase)),
			};
		});
	}

	private planReverse(
		nation: LedgerNation,
		transferId: string,
		metadata: Record<string, string>,
		now: number,
	): Plan<TransferView> | LedgerRefusal {
		const original = this.store.entryById(nation.iso2, transferId);
		if (!original)
			return refusal("transfer_not_found", `No transfer ${transferId} in ${nation.iso2}'s ledger`);
		if (original.kind === "reversal") {
			return refusal(
				"cannot_reverse_reversal",
				`Transfer ${transferId} is itself a reversal (of ${original.reverses_id}); a reversal cannot be reversed, record a new transfer instead`,
			);
		}
		if (original.phase === "pending") {
			return refusal(
				"cannot_reverse_pending_transfer",
				`Transfer ${transferId} is pending: void it to release its hold, or post it and reverse the posting`,
			);
		}
		if (original.phase === "void" || original.phase === "expire") {
			return refusal(
				"cannot_reverse_release",
				`Entry ${transferId} only released a hold; it moved no money to reverse`,
			);
		}
		const reversedBy = this.store.reversalOf(transferId);
		if (reversedBy) {
			return refusal(
				"transfer_already_reversed",
				`Transfer ${transferId} was already reversed by ${reversedBy}`,
			);
		}
		const sheet = cloneBalanceSheet(this.sheet);
		const movement: Movement = {
			effect: "post",
			debit: original.credit_account,
			credit: original.debit_account,
			amount: original.amount,
		};
		const refused = applyMovement(sheet, movement);
		if (refused) return refusal(refused, describeRefusal(refused, movement, sheet));
		const entry = this.chain(nation, now).seal({
			id: `${transferId}~reversal`,
			kind: "reversal",
			phase: "single",
			debit_account: original.credit_account,
			credit_account: original.debit_account,
			amount: original.amount,
			pending_id: null,
			reverses_id: transferId,
			reference: original.reference,
			metadata,
			expires_at_ms: null,
		});
		return {
			entries: [entry],
			sheet,
			touched: new Set([original.credit_account, original.debit_account]),
			status: 201,
			body: toTransferView(entry, "posted"),
		};
	}

	/**
	 * Voids every pending transfer whose timeout has passed, with an `expire` entry each. Runs before every
	 * operation and in the alarm, so an expired hold is released before anything can observe or post it.
	 */
	private expireDue(nation: LedgerNation, nowMs: number): void {
		if (this.nextExpiryMs === null || this.nextExpiryMs > nowMs) return;
		for (;;) {
			const due = this.store.duePendingIds(nowMs, EXPIRE_BATCH);
			if (due.length === 0) {
				this.nextExpiryMs = this.store.nextExpiryMs();
				return;
			}
			const sheet = cloneBalanceSheet(this.sheet);
			const chain = this.chain(nation, nowMs);
			const entries: LedgerEntry[] = [];
			const touched = new Set<AccountCode>();
			for (const id of due) {
				const pending = this.store.entryById(nation.iso2, id);
				if (!pending) continue;
				applyMovement(sheet, {
					effect: "release",
					debit: pending.debit_account,
					credit: pending.credit_account,
					held: pending.amount,
				});
				touched.add(pending.debit_account);
				touched.add(pending.credit_account);
				entries.push(
					chain.seal({
						id: `${id}~expire`,
						kind: pending.kind,
						phase: "expire",
						debit_account: pending.debit_account,
						credit_account: pending.credit_account,
						amount: pending.amount,
						pending_id: id,
						reverses_id: null,
						reference: pending.reference,
						metadata: {},
						expires_at_ms: null,
					}),
				);
			}
			this.ctx.storage.transactionSync(() => {
				this.store.insertEntries(entries);
				this.store.saveBalances(sheet, touched);
			});
			this.commit({ entries, sheet });
			if (!this.draining && entries.length > 0 && (this.alarmAt === null || this.alarmAt > nowMs)) {
				this.alarmAt = nowMs;
				void this.ctx.storage.setAlarm(nowMs);
			}
		}
	}

	private headView(): LedgerHead {
		return {
			sequence: this.tip.sequence,
			hash: this.tip.hash,
			timestamp: this.tip.timestamp_ms === null ? null : new Date(this.tip.timestamp_ms).toISOString(),
			balances_digest: balancesDigest(this.sheet),
		};
	}

	private projectionStatus(nowMs: number): ProjectionStatus {
		const outbox = this.store.outboxStats(this.tip.sequence);
		const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
		return {
			lag_entries: outbox.count,
			lag_ms: outbox.oldestTimestampMs === null ? 0 : Math.max(0, nowMs - outbox.oldestTimestampMs),
			projected_sequence: Math.min(outbox.projectedSequence, this.tip.sequence),
			last_projected_at: iso(this.projection.lastProjectedAtMs),
			consecutive_failures: this.projection.consecutiveFailures,
			last_error: this.projection.lastError,
			next_attempt_at: iso(this.projection.nextAttemptAtMs),
		};
	}

	/**
	 * After a write the outbox has rows to drain (now, or when the backoff allows) and a new pending transfer may
	 * expire soon; move the alarm earlier if it is not already due by then. While the alarm runs it reschedules
	 * itself from the stored state when it finishes.
	 */
	private async scheduleAfterWrite(entries: readonly LedgerEntry[], nowMs: number): Promise<void> {
		if (this.draining || entries.length === 0) return;
		let due = Math.max(nowMs, this.projection.nextAttemptAtMs ?? nowMs);
		for (const entry of entries) if (entry.expires_at_ms !== null) due = Math.min(due, entry.expires_at_ms);
		if (this.alarmAt !== null && this.alarmAt <= due) return;
		this.alarmAt = due;
		await this.ctx.storage.setAlarm(due);
	}

	/** Sets the alarm for the earliest pending work: outbox drain, a timeout, or the idempotency sweep. */
	private async scheduleFromState(): Promise<void> {
		const now = Date.now();
		const candidates: number[] = [];
		if (this.store.outboxStats(this.tip.sequence).count > 0)
			candidates.push(Math.max(now, this.projection.nextAttemptAtMs ?? now));
		const expiry = this.store.nextExpiryMs();
		if (expiry !== null) candidates.push(expiry);
		const sweep = this.keys.nextSweepMs();
		if (sweep !== null) candidates.push(sweep);
		if (candidates.length === 0) {
			if (this.alarmAt !== null) await this.ctx.storage.deleteAlarm();
			this.alarmAt = null;
			return;
		}
		const due = Math.min(...candidates);
		this.alarmAt = due;
		await this.ctx.storage.setAlarm(due);
	}
}

/**
 * The stored form of a caller's key: `<caller> <key>`. A key is visible ASCII without spaces, so the last space
 * separates the two whatever the caller's id holds. The system's keys are stored as given.
 */
function namespacedKey(key: string, caller: string | undefined): string {
	return caller === undefined ? key : `${caller} ${key}`;
}

function invalid(error: z.ZodError): { ok: false; refusal: LedgerRefusal } {
	return {
		ok: false,
		refusal: refusal("invalid_input", "The request did not match the schema; see errors", {
			errors: error.issues.map((issue) => ({
				path: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
				message: issue.message,
				code: issue.code,
			})),
		}),
	};
}

function notFound(id: string): { ok: false; refusal: LedgerRefusal } {
	return {
		ok: false,
		refusal: refusal("transfer_not_found", `No transfer ${JSON.stringify(id)} in this ledger`),
	};
}

function referenceOf(reference: TransferInput["reference"]): LedgerEntry["reference"] {
	return {
		project_id: reference?.project_id ?? null,
		distribution_id: reference?.distribution_id ?? null,
		period: reference?.period ?? null,
	};
}

/** Whether a transfer being created again with an existing id asks for exactly what the ledger holds. */
function sameTransfer(existing: LedgerEntry, item: TransferInput): boolean {
	const timeout =
		existing.expires_at_ms === null
			? null
			: Math.round((existing.expires_at_ms - existing.timestamp_ms) / 1000);
	const held: CanonicalValue = {
		kind: existing.kind,
		phase: existing.phase,
		debit: existing.debit_account,
		credit: existing.credit_account,
		amount: existing.amount,
		timeout,
		reference: { ...existing.reference },
		metadata: { ...existing.metadata },
	};
	const asked: CanonicalValue = {
		kind: item.kind,
		phase: item.pending ? "pending" : "single",
		debit: item.debit_account,
		credit: item.credit_account,
		amount: item.amount,
		timeout: item.timeout_seconds ?? null,
		reference: referenceOf(item.reference),
		metadata: item.metadata ?? {},
	};
	return canonicalJson(held) === canonicalJson(asked);
}

/** A refusal detail that says which account would leave its bound and by how much. */
function describeRefusal(reason: BalanceRefusal, movement: Movement, sheet: BalanceSheet): string {
	const amount = "amount" in movement ? movement.amount : movement.held;
	switch (reason) {
		case "exceeds_debits": {
			const account = movement.credit;
			return `${account} would be overdrawn: ${amount} cents requested, ${availableBalance(account, sheet[account])} available (${ACCOUNTS[account].constraint})`;
		}
		case "exceeds_credits": {
			const account = movement.debit;
			return `${account} would go below zero: ${amount} cents requested, ${availableBalance(account, sheet[account])} available (${ACCOUNTS[account].constraint})`;
		}
		case "overflows_debits":
			return `${movement.debit}'s debits would exceed 2^53 − 1 cents`;
		case "overflows_credits":
			return `${movement.credit}'s credits would exceed 2^53 − 1 cents`;
	}
}

async function withTimeout(ms: number, run: () => Promise<void>): Promise<void> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	try {
		await Promise.race([
			run(),
			new Promise<never>((_, reject) => {
				timer = setTimeout(() => reject(new Error(`the drain did not finish within ${ms} ms`)), ms);
			}),
		]);
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}

/** Drizzle wraps driver errors ("Failed query: ..."); the operator needs the driver's reason. */
function rootMessage(error: unknown): string {
	let current = error;
	while (current instanceof Error && current.cause instanceof Error) current = current.cause;
	return current instanceof Error ? current.message : String(current);
}
