import { canonicalHash, sha256Hex } from "../ledger/canonical.ts";
import type { ServingRegion } from "../serving-regions.ts";
import type { Period } from "./period.ts";
import type { Share } from "./split.ts";

/**
 * A distribution: a project's profit for a period split across the nations that paid contributions for it
 * (weights = cents paid, see docs/fund.md), then posted to each nation's ledger by a saga (one
 * DistributionSaga Durable Object per distribution). The plan is fixed when the distribution is created; the
 * saga only executes it.
 */

/** `dist_` and 32 hex digits. */
export const DISTRIBUTION_ID_PATTERN = /^dist_[0-9a-f]{32}$/;

/**
 * The id of a distribution created with an Idempotency-Key: derived from the caller and the key, so a retry
 * names the same distribution (and the same saga) however many times it is sent. Without a key: random.
 */
export function distributionIdFor(
	caller: { kind: string; id: string },
	idempotencyKey: string | undefined,
): string {
	if (idempotencyKey === undefined) return `dist_${crypto.randomUUID().replaceAll("-", "")}`;
	return `dist_${sha256Hex(`distributions\n${caller.kind}\n${caller.id}\n${idempotencyKey}`).slice(0, 32)}`;
}

/** The ledger transfer id of a nation's share: one per (distribution, nation), which is what makes it exactly once. */
export function shareTransferId(distributionId: string, iso2: string): string {
	return `${distributionId}.${iso2}`;
}

/** The Idempotency-Key the saga sends with a share's posting (belt and braces beside the transfer id). */
export function shareIdempotencyKey(distributionId: string, iso2: string): string {
	return `distribution:${distributionId}:${iso2}`;
}

export interface PlannedShare {
	nation: string;
	serving_region: ServingRegion;
	/** Cents the nation paid for the period: its weight. */
	weight_cents: number;
	share_cents: number;
	/** Whether the share includes one of the cents left over by rounding down (see split.ts). */
	extra_cent: boolean;
	/** The transfer that pays it on the nation's ledger; null for a zero share (nothing is posted). */
	transfer_id: string | null;
}

export interface DistributionPlan {
	id: string;
	project: {
		id: string;
		name: string;
		sector: string;
		/** The host nation and its serving region (where the profit was made). */
		nation: string;
		serving_region: string;
	};
	period: Period;
	amount_cents: number;
	total_weight_cents: number;
	/** How complete the contributions projection the weights were read from was (ISO time), if known. */
	weights_complete_through: string | null;
	created_at: string;
	created_by: string;
	shares: PlannedShare[];
}

export function planShares(
	distributionId: string,
	shares: readonly Share[],
	regions: ReadonlyMap<string, ServingRegion>,
): PlannedShare[] {
	return shares.map((share) => {
		const region = regions.get(share.nation);
		if (!region) throw new Error(`no serving region known for ${share.nation}`);
		return {
			nation: share.nation,
			serving_region: region,
			weight_cents: share.weight,
			share_cents: share.share,
			extra_cent: share.extra_cent,
			transfer_id: share.share > 0 ? shareTransferId(distributionId, share.nation) : null,
		};
	});
}

/** A digest of the plan: the saga refuses to be started twice with different plans under one id. */
export function planDigest(plan: DistributionPlan): string {
	return canonicalHash({
		id: plan.id,
		project: { ...plan.project },
		period: plan.period,
		amount_cents: plan.amount_cents,
		total_weight_cents: plan.total_weight_cents,
		shares: plan.shares.map((s) => ({
			nation: s.nation,
			weight_cents: s.weight_cents,
			share_cents: s.share_cents,
			transfer_id: s.transfer_id,
		})),
	});
}

/**
 * The saga's states:
 * - `running`: shares are being posted (alarm-driven, a few per step, retried with backoff on failures);
 * - `finalizing`: every share is settled; the Postgres record and the event are being written;
 * - `completed`: every nation was paid its share exactly once; `covenant.payments.distributed` was emitted;
 * - `stalled`: a ledger refused a share for good (see the share's `last_error`); the other shares were still
 *   posted; nothing is retried and no completion event is emitted: an operator must look.
 */
export const SAGA_STATUSES = ["running", "finalizing", "completed", "stalled"] as const;
export type SagaStatus = (typeof SAGA_STATUSES)[number];

/**
 * A share's states: `pending` (to post), `posted` (the ledger recorded it: sequence and hash), `refused` (the
 * ledger refused it for good), `nothing_to_pay` (a zero share: nothing is posted).
 */
export const SHARE_STATES = ["pending", "posted", "refused", "nothing_to_pay"] as const;
export type ShareState = (typeof SHARE_STATES)[number];

export interface ShareProgress extends PlannedShare {
	state: ShareState;
	ledger_sequence: number | null;
	entry_hash: string | null;
	posted_at: string | null;
	attempts: number;
	last_error: string | null;
}

export interface DistributionView extends Omit<DistributionPlan, "shares"> {
	status: SagaStatus;
	completed_at: string | null;
	progress: {
		/** Nations with a share above zero. */
		recipients: number;
		posted: number;
		pending: number;
		refused: number;
		posted_cents: number;
		pending_cents: number;
	};
	/** The saga's last failure and when it tries again (both null when nothing is failing). */
	last_error: string | null;
	next_attempt_at: string | null;
	shares: ShareProgress[];
}
