import { DurableObject } from "cloudflare:workers";
import {
	type DistributionPlan,
	type DistributionView,
	planDigest,
	type SagaStatus,
	type ShareProgress,
	type ShareState,
	shareIdempotencyKey,
} from "../../workers/domain/fund/distribution.ts";
import { nationByCode } from "../../workers/domain/ledger/nations.ts";
import type { TransferView } from "../../workers/domain/ledger/views.ts";
import { ledgerOf } from "../nation-ledger/client.ts";
import type { LedgerWriteResult, WriteOptions } from "../nation-ledger/object.ts";
import { type OutcomeEnv, recordOutcome } from "./outcome.ts";
import { migrateSagaSchema } from "./schema.ts";

/** Shares posted per alarm: each alarm stays short, and a restart loses at most one step's bookkeeping. */
export const SHARES_PER_STEP = 10;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 60_000;

/** What the saga needs of a nation's ledger: its transfer RPC. */
export interface ShareLedger {
	transfer(input: unknown, options: WriteOptions): Promise<LedgerWriteResult<TransferView>>;
}

type SagaRow = {
	id: string;
	plan: string;
	digest: string;
	status: SagaStatus;
	created_at_ms: number;
	completed_at_ms: number | null;
	consecutive_failures: number;
	last_error: string | null;
	next_attempt_at_ms: number | null;
};

type ShareRow = {
	nation: string;
	position: number;
	share_cents: number;
	transfer_id: string | null;
	state: ShareState;
	ledger_sequence: number | null;
	entry_hash: string | null;
	posted_at_ms: number | null;
	attempts: number;
	last_error: string | null;
};

/**
 * One distribution's saga (`idFromName(distribution id)`): executes a fixed plan by posting each nation's share
 * to that nation's ledger, a few shares per alarm, until every share is settled; then records the outcome in
 * Postgres and emits `covenant.payments.distributed`.
 *
 * Exactly once, across retries, restarts and evictions: a share is posted as a ledger transfer whose id is
 * derived from (distribution id, nation), and the ledger stores a transfer id once: posting it again with the
 * same fields returns the transfer already recorded instead of a second one. So when the object dies between
 * the ledger's answer and the saga's own bookkeeping, the next alarm posts the share again and merely learns
 * its sequence. The plan and every share's state live in this object's SQLite storage; the alarm, also
 * durable, resumes the work after any restart.
 */
export class DistributionSaga extends DurableObject<Env> {
	/** How a share reaches a nation's ledger. Tests wrap it to simulate a crash right after a posting. */
	ledgerFor: (nation: string) => ShareLedger;
	/** Where the outcome is recorded and announced. Tests point it at recording queues. */
	outcomeEnv: OutcomeEnv;
	private stepping = false;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.ledgerFor = (code) => {
			const nation = nationByCode(code);
			if (!nation) throw new UnknownNationError(code);
			return ledgerOf(env, nation);
		};
		this.outcomeEnv = env;
		ctx.blockConcurrencyWhile(async () => {
			migrateSagaSchema(ctx.storage);
			// A saga restarted with work left and no alarm (e.g. the alarm was lost in a crash) resumes at once.
			const saga = this.saga();
			if (saga && isActive(saga.status) && (await ctx.storage.getAlarm()) === null) {
				await ctx.storage.setAlarm(Math.max(Date.now(), saga.next_attempt_at_ms ?? 0));
			}
		});
	}

	/**
	 * Stores the plan and starts executing it. Starting again with the same plan changes nothing (a retried
	 * request); with a different plan under the same id it throws: a plan is never replaced.
	 */
	async start(plan: DistributionPlan): Promise<DistributionView> {
		if (this.ctx.id.name !== undefined && this.ctx.id.name !== plan.id) {
			throw new Error(`saga ${this.ctx.id.name} cannot run the plan of distribution ${plan.id}`);
		}
		const digest = planDigest(plan);
		const existing = this.saga();
		if (existing) {
			if (existing.digest !== digest) {
				throw new Error(`distribution ${plan.id} already has another plan; a plan is never replaced`);
			}
			// Starting again also resumes a saga whose alarm was lost.
			if (isActive(existing.status) && (await this.ctx.storage.getAlarm()) === null) {
				await this.ctx.storage.setAlarm(Math.max(Date.now(), existing.next_attempt_at_ms ?? 0));
			}
			return this.present(existing);
		}
		const now = Date.now();
		this.ctx.storage.transactionSync(() => {
			this.ctx.storage.sql.exec(
				"insert into saga (id, plan, digest, status, created_at_ms) values (?, ?, ?, 'running', ?)",
				plan.id,
				JSON.stringify(plan),
				digest,
				now,
			);
			plan.shares.forEach((share, position) => {
				this.ctx.storage.sql.exec(
					"insert into shares (nation, position, share_cents, transfer_id, state) values (?, ?, ?, ?, ?)",
					share.nation,
					position,
					share.share_cents,
					share.transfer_id,
					share.share_cents > 0 && share.transfer_id !== null ? "pending" : "nothing_to_pay",
				);
			});
		});
		await this.ctx.storage.setAlarm(now);
		return this.present(this.requireSaga());
	}

	/**
	 * Resumes a stalled distribution, once whatever made a ledger refuse a share has been dealt with: the refused
	 * shares go back to pending and the saga runs again (posting them with the same transfer ids and idempotency
	 * keys, so a share a ledger did record is never paid twice), then records and announces its outcome as usual.
	 * `resumed` is false, and nothing changes, for a saga that is not stalled; null when there is no such saga.
	 */
	async resume(): Promise<{ resumed: boolean; view: DistributionView } | null> {
		const saga = this.saga();
		if (!saga) return null;
		if (saga.status !== "stalled") return { resumed: false, view: this.present(saga) };
		this.ctx.storage.transactionSync(() => {
			this.ctx.storage.sql.exec("update shares set state = 'pending' where state = 'refused'");
			this.ctx.storage.sql.exec(
				`update saga set status = 'running', completed_at_ms = null, consecutive_failures = 0, last_error = null,
					next_attempt_at_ms = null`,
			);
		});
		await this.ctx.storage.setAlarm(Date.now());
		console.log(JSON.stringify({ msg: "distribution resumed", distribution: saga.id }));
		return { resumed: true, view: this.present(this.requireSaga()) };
	}

	/** The plan and its progress; null when no distribution was started under this id. */
	async view(): Promise<DistributionView | null> {
		const saga = this.saga();
		return saga ? this.present(saga) : null;
	}

	override async alarm(): Promise<void> {
		const saga = this.saga();
		if (!saga || !isActive(saga.status) || this.stepping) return;
		this.stepping = true;
		try {
			if (saga.status === "running") await this.postShares(saga);
			const current = this.requireSaga();
			if (current.status === "finalizing") await this.finalize(current);
		} finally {
			this.stepping = false;
		}
		const after = this.requireSaga();
		if (isActive(after.status))
			await this.ctx.storage.setAlarm(Math.max(Date.now(), after.next_attempt_at_ms ?? 0));
	}

	// ---- steps -----------------------------------------------------------------------------------------------

	/**
	 * Posts up to SHARES_PER_STEP pending shares, one at a time, recording each answer before the next. A refusal
	 * settles the share for good; an exception (the ledger unreachable, the object restarting) stops the step and
	 * retries later with backoff, the share still pending.
	 */
	private async postShares(saga: SagaRow): Promise<void> {
		const plan = JSON.parse(saga.plan) as DistributionPlan;
		const weights = new Map(plan.shares.map((s) => [s.nation, s.weight_cents]));
		const due = this.ctx.storage.sql
			.exec<ShareRow>(
				"select * from shares where state = 'pending' order by position limit ?",
				SHARES_PER_STEP,
			)
			.toArray();
		for (const share of due) {
			const transferId = share.transfer_id as string;
			const input = {
				id: transferId,
				kind: "distribution",
				debit_account: "treasury",
				credit_account: "distributions_received",
				amount: share.share_cents,
				reference: { project_id: plan.project.id, distribution_id: plan.id, period: plan.period },
				metadata: {
					distribution: plan.id,
					weight_cents: String(weights.get(share.nation) ?? 0),
					total_weight_cents: String(plan.total_weight_cents),
				},
			};
			let result: LedgerWriteResult<TransferView>;
			try {
				result = await this.ledgerFor(share.nation).transfer(input, {
					idempotencyKey: shareIdempotencyKey(plan.id, share.nation),
				});
			} catch (error) {
				if (error instanceof UnknownNationError) {
					this.settleShare(share.nation, "refused", { error: error.message });
					continue;
				}
				this.recordFailure(`posting ${share.nation}'s share failed: ${messageOf(error)}`, share.nation);
				return;
			}
			if (result.ok) {
				this.settleShare(share.nation, "posted", {
					sequence: result.body.sequence,
					hash: result.body.hash,
					postedAtMs: Date.parse(result.body.timestamp),
				});
			} else {
				this.settleShare(share.nation, "refused", {
					error: `${result.refusal.reason}: ${result.refusal.detail}`,
				});
			}
		}
		const left = this.ctx.storage.sql
			.exec<{ n: number }>("select count(*) as n from shares where state = 'pending'")
			.one().n;
		this.ctx.storage.sql.exec(
			`update saga set status = ?, consecutive_failures = 0, last_error = null, next_attempt_at_ms = null`,
			left === 0 ? "finalizing" : "running",
		);
	}

	/** Records the outcome in Postgres and announces a completed distribution; retried with backoff on failure. */
	private async finalize(saga: SagaRow): Promise<void> {
		const refused = this.ctx.storage.sql
			.exec<{ n: number }>("select count(*) as n from shares where state = 'refused'")
			.one().n;
		const outcome = refused > 0 ? "stalled" : "completed";
		const completedAtMs = saga.completed_at_ms ?? Date.now();
		// The completion time is fixed before the first attempt, so every retry records and announces the same one.
		this.ctx.storage.sql.exec("update saga set completed_at_ms = ?", completedAtMs);
		try {
			await recordOutcome(
				this.outcomeEnv,
				this.present(this.requireSaga()),
				outcome,
				new Date(completedAtMs).toISOString(),
			);
		} catch (error) {
			this.recordFailure(`recording the outcome failed: ${messageOf(error)}`);
			return;
		}
		this.ctx.storage.sql.exec(
			"update saga set status = ?, consecutive_failures = 0, last_error = null, next_attempt_at_ms = null",
			outcome,
		);
		console.log(
			JSON.stringify({ msg: "distribution finished", distribution: saga.id, status: outcome, refused }),
		);
	}

	// ---- bookkeeping ---------------------------------------------------------------------------------------

	private settleShare(
		nation: string,
		state: "posted" | "refused",
		details: { sequence?: number; hash?: string; postedAtMs?: number; error?: string },
	): void {
		this.ctx.storage.sql.exec(
			`update shares set state = ?, ledger_sequence = ?, entry_hash = ?, posted_at_ms = ?, attempts = attempts + 1,
				last_error = ? where nation = ?`,
			state,
			details.sequence ?? null,
			details.hash ?? null,
			details.postedAtMs ?? null,
			details.error ?? null,
			nation,
		);
	}

	private recordFailure(message: string, nation?: string): void {
		const saga = this.requireSaga();
		const failures = saga.consecutive_failures + 1;
		const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
		const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
		this.ctx.storage.transactionSync(() => {
			this.ctx.storage.sql.exec(
				"update saga set consecutive_failures = ?, last_error = ?, next_attempt_at_ms = ?",
				failures,
				message,
				Date.now() + delay,
			);
			if (nation) {
				this.ctx.storage.sql.exec(
					"update shares set attempts = attempts + 1, last_error = ? where nation = ?",
					message,
					nation,
				);
			}
		});
		console.error(
			JSON.stringify({
				msg: "distribution step failed; will retry",
				distribution: saga.id,
				attempt: failures,
				retry_in_ms: delay,
				error: message,
			}),
		);
	}

	private saga(): SagaRow | undefined {
		return this.ctx.storage.sql.exec<SagaRow>("select * from saga").toArray()[0];
	}

	private requireSaga(): SagaRow {
		const saga = this.saga();
		if (!saga) throw new Error("this saga has no plan");
		return saga;
	}

	private present(saga: SagaRow): DistributionView {
		const plan = JSON.parse(saga.plan) as DistributionPlan;
		const rows = new Map(
			this.ctx.storage.sql
				.exec<ShareRow>("select * from shares")
				.toArray()
				.map((row) => [row.nation, row]),
		);
		const progress = { recipients: 0, posted: 0, pending: 0, refused: 0, posted_cents: 0, pending_cents: 0 };
		const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
		const shares: ShareProgress[] = plan.shares.map((share) => {
			const row = rows.get(share.nation);
			const state = row?.state ?? "pending";
			if (share.share_cents > 0) progress.recipients += 1;
			if (state === "posted") {
				progress.posted += 1;
				progress.posted_cents += share.share_cents;
			} else if (state === "pending") {
				progress.pending += 1;
				progress.pending_cents += share.share_cents;
			} else if (state === "refused") {
				progress.refused += 1;
			}
			return {
				...share,
				state,
				ledger_sequence: row?.ledger_sequence ?? null,
				entry_hash: row?.entry_hash ?? null,
				posted_at: iso(row?.posted_at_ms ?? null),
				attempts: row?.attempts ?? 0,
				last_error: row?.last_error ?? null,
			};
		});
		const { shares: _planned, ...rest } = plan;
		return {
			...rest,
			status: saga.status,
			completed_at:
				saga.status === "completed" || saga.status === "stalled" ? iso(saga.completed_at_ms) : null,
			progress,
			last_error: saga.last_error,
			next_attempt_at: iso(saga.next_attempt_at_ms),
			shares,
		};
	}
}

class UnknownNationError extends Error {
	constructor(code: string) {
		super(`no ledger exists for nation ${JSON.stringify(code)}`);
		this.name = "UnknownNationError";
	}
}

function isActive(status: SagaStatus): boolean {
	return status === "running" || status === "finalizing";
}

function messageOf(error: unknown): string {
	let current = error;
	while (current instanceof Error && current.cause instanceof Error) current = current.cause;
	return current instanceof Error ? current.message : String(current);
}
