import { z } from "@hono/zod-openapi";
import { and, eq, isNull } from "drizzle-orm";
import type { Context } from "hono";
import { sagaOf } from "../../../durable-objects/distribution-saga/client.ts";
import type { App } from "../../app.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { distributionShares, distributions } from "../../db/schema/distributions.ts";
import { projects } from "../../db/schema/projects.ts";
import {
	type DistributionPlan,
	type DistributionView,
	distributionIdFor,
	planShares,
} from "../../domain/fund/distribution.ts";
import { Period } from "../../domain/fund/period.ts";
import { splitByWeight } from "../../domain/fund/split.ts";
import { canonicalJson, sha256Hex } from "../../domain/ledger/canonical.ts";
import { nationByCode } from "../../domain/ledger/nations.ts";
import { IdempotencyKey, PositiveCents } from "../../domain/ledger/transfer-input.ts";
import type { ServingRegion } from "../../domain/serving-regions.ts";
import type { AppEnv } from "../../lib/context.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { assertFundWide } from "../contributions/schema.ts";
import { paidContributions, projectionCompleteness } from "../fund/projection.ts";
import { type DistributionResponse, DistributionSchema } from "./schema.ts";

export const CreateDistributionBody = z
	.strictObject({
		project_id: z.uuid({ error: "expected a project id (UUID)" }),
		amount: PositiveCents.openapi({
			description: "The profit to distribute, in integer USD cents",
			example: 1_000_000,
		}),
		period: Period.openapi({
			description: "The contribution year whose paid contributions weigh the split, `YYYY`",
			example: "2026",
		}),
	})
	.openapi("CreateDistribution");
export type CreateDistributionRequest = z.input<typeof CreateDistributionBody>;
export type CreateDistributionResponse = DistributionResponse;

const Headers = z.object({
	"idempotency-key": z
		.string({ error: "The Idempotency-Key header is required: every write carries one" })
		.openapi({
			description:
				"Required: makes retries safe. The same key with the same body returns the distribution the first request created (and restarts its saga if it never started) instead of distributing twice; with another body, 422.",
			example: "profit-2026-q2-solar-park",
		}),
});

export const route = defineRoute({
	method: "post",
	path: "/v1/distributions",
	tags: ["distributions"],
	summary: "Distribute a project's profit across the contributing nations",
	description:
		"Splits `amount` across the nations that paid contributions for `period`, by the cents each paid (the ledger projection, see GET /v1/contributions), in integer cents with largest-remainder rounding: the shares sum exactly to the amount; left-over cents go to the largest remainders, ties to the larger weight, then the lower ISO code. The plan is fixed here; a saga then posts each share to its nation's ledger (treasury ← distributions_received, transfer id `<distribution id>.<nation>`), exactly once even across restarts, and emits covenant.payments.distributed when done. Follow progress at the Location. Needs distributions:write without constraints.",
	access: { permission: "distributions:write" },
	cost: 10,
	request: {
		headers: Headers,
		body: { required: true, content: { "application/json": { schema: CreateDistributionBody } } },
	},
	responses: {
		202: {
			description:
				"The distribution was planned and its saga started (or, with Idempotent-Replayed: true, had been)",
			headers: {
				Location: { description: "The distribution's URL", schema: { type: "string" } },
				"Idempotent-Replayed": {
					description: "`true` for the stored outcome of an earlier request",
					schema: { type: "string" },
				},
			},
			content: { "application/json": { schema: DistributionSchema } },
		},
		...problemResponses(400, 415, 422, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		assertFundWide(c, "distributions:write", "Distributing a profit");
		const body = c.req.valid("json");
		const key = idempotencyKeyOf(c.req.valid("header")["idempotency-key"]);
		const principal = c.var.principal;
		const id = distributionIdFor(principal, key);
		const requestFingerprint = sha256Hex(canonicalJson(body));
		const db = c.var.db();

		const earlier = await db.query.distributions.findFirst({ where: eq(distributions.id, id) });
		if (earlier) return replay(c, earlier.requestFingerprint, requestFingerprint, earlier.plan);

		const project = await db.query.projects.findFirst({
			where: and(eq(projects.id, body.project_id), isNull(projects.deletedAt)),
		});
		if (!project) {
			throw new ApiError(
				"unprocessable",
				`No project has the id ${body.project_id}; nothing was distributed`,
				{
					errors: [{ path: ["project_id"], message: "unknown project", code: "unknown_project" }],
					extensions: { reason: "unknown_project" },
				},
			);
		}
		const [paid, completeness] = await Promise.all([
			paidContributions(db, body.period),
			projectionCompleteness(db),
		]);
		if (paid.length === 0) {
			throw new ApiError(
				"unprocessable",
				`No nation has paid contributions for ${body.period}, so there is nobody to distribute to by contribution weight; nothing was distributed`,
				{ extensions: { reason: "no_contributions", period: body.period } },
			);
		}
		const weights = paid.map((p) => ({ nation: p.nation, weight: p.paid_cents }));
		const totalWeight = weights.reduce((sum, w) => sum + w.weight, 0);
		if (!Number.isSafeInteger(totalWeight)) {
			throw new ApiError(
				"unprocessable",
				"The contributions paid for the period exceed 2^53 − 1 cents in total",
			);
		}
		const regions = new Map<string, ServingRegion>();
		for (const { nation } of weights) {
			const known = nationByCode(nation);
			if (known) regions.set(nation, known.serving_region);
		}
		const plan: DistributionPlan = {
			id,
			project: {
				id: project.id,
				name: project.name,
				sector: project.sector,
				nation: project.nationIso2,
				serving_region: project.servingRegion,
			},
			period: body.period,
			amount_cents: body.amount,
			total_weight_cents: totalWeight,
			weights_complete_through: completeness.complete_through,
			created_at: new Date().toISOString(),
			created_by: `${principal.kind}:${principal.id}`,
			shares: planShares(id, splitByWeight(body.amount, weights), regions),
		};

		const stored = await inTransaction(db, async (tx) => {
			const inserted = await tx
				.insert(distributions)
				.values({
					id,
					projectId: plan.project.id,
					period: plan.period,
					amountCents: plan.amount_cents,
					totalWeightCents: plan.total_weight_cents,
					recipients: plan.shares.filter((s) => s.share_cents > 0).length,
					status: "running",
					requestFingerprint,
					createdBy: plan.created_by,
					plan,
					weightsCompleteThrough: plan.weights_complete_through
						? new Date(plan.weights_complete_through)
						: null,
				})
				.onConflictDoNothing({ target: distributions.id })
				.returning({ id: distributions.id });
			if (inserted.length === 0) {
				// A concurrent request with the same key got there first: answer as its retry.
				return tx.query.distributions.findFirst({ where: eq(distributions.id, id) });
			}
			await tx.insert(distributionShares).values(
				plan.shares.map((share) => ({
					distributionId: id,
					nationIso2: share.nation,
					weightCents: share.weight_cents,
					shareCents: share.share_cents,
					extraCent: share.extra_cent,
					transferId: share.transfer_id,
					state: share.share_cents > 0 ? "pending" : "nothing_to_pay",
				})),
			);
			return undefined;
		});
		if (stored) return replay(c, stored.requestFingerprint, requestFingerprint, stored.plan);
		const view = await startSaga(c, plan);
		return respond(c, view, false);
	});

function idempotencyKeyOf(header: string | undefined): string | undefined {
	if (header === undefined) return undefined;
	const checked = IdempotencyKey.safeParse(header);
	if (!checked.success) {
		throw new ApiError("invalid_request", "The Idempotency-Key header is invalid", {
			errors: [
				{
					path: ["Idempotency-Key"],
					message: checked.error.issues[0]?.message ?? "invalid",
					code: "invalid_format",
				},
			],
		});
	}
	return header;
}

async function replay(
	c: Context<AppEnv>,
	storedFingerprint: string,
	fingerprint: string,
	plan: DistributionPlan,
) {
	if (storedFingerprint !== fingerprint) {
		throw new ApiError(
			"idempotency_key_reused",
			"This Idempotency-Key was already used for a distribution with a different body; use a new key for a new distribution",
		);
	}
	// The first request may have stopped before its saga started: starting it with the same plan is a no-op otherwise.
	return respond(c, await startSaga(c, plan), true);
}

async function startSaga(c: Context<AppEnv>, plan: DistributionPlan): Promise<DistributionView> {
	try {
		return await sagaOf(c.env, plan.id).start(plan);
	} catch (error) {
		console.error(
			JSON.stringify({ msg: "distribution saga did not start", distribution: plan.id, error: String(error) }),
		);
		throw new ApiError(
			"unavailable",
			`Distribution ${plan.id} was planned but its saga did not start; repeat the request with the same Idempotency-Key (or GET /v1/distributions/${plan.id}) to start it`,
			{ headers: { "retry-after": "2" }, extensions: { distribution_id: plan.id } },
		);
	}
}

function respond(c: Context<AppEnv>, view: DistributionView, replayed: boolean) {
	c.header("location", `/v1/distributions/${view.id}`);
	c.header("cache-control", "no-store");
	if (replayed) c.header("idempotent-replayed", "true");
	return c.json<CreateDistributionResponse, 202>(view, 202);
}
