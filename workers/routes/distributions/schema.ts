import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { DistributionView } from "../../domain/fund/distribution.ts";
import { SAGA_STATUSES, SHARE_STATES } from "../../domain/fund/distribution.ts";
import { SERVING_REGIONS } from "../../domain/serving-regions.ts";
import type { AppEnv } from "../../lib/context.ts";
import { ApiError } from "../../lib/problem.ts";

const Cents = z.number().int();

export const DistributionSchema = z
	.object({
		id: z.string().openapi({ example: "dist_4f1c2b0e5d1a4b8e9a510c2f3e4d5a6b" }),
		status: z.enum(SAGA_STATUSES).openapi({
			description:
				"running: shares are being posted; finalizing: all settled, recording the outcome; completed: every nation paid exactly once and covenant.payments.distributed emitted; stalled: a ledger refused a share for good (see the share's last_error)",
		}),
		project: z.object({
			id: z.string(),
			name: z.string(),
			sector: z.string(),
			nation: z.string().openapi({ description: "The host nation" }),
			serving_region: z.string(),
		}),
		period: z
			.string()
			.openapi({ description: "The contribution year whose paid contributions weigh the split" }),
		amount_cents: Cents,
		total_weight_cents: Cents.openapi({
			description: "The contributions paid for the period by every recipient",
		}),
		weights_complete_through: z.string().nullable().openapi({
			format: "date-time",
			description: "The contributions projection the weights were read from was complete up to this time",
		}),
		created_at: z.string().openapi({ format: "date-time" }),
		created_by: z.string(),
		completed_at: z.string().nullable().openapi({ format: "date-time" }),
		progress: z.object({
			recipients: z.number().int().openapi({ description: "Nations with a share above zero" }),
			posted: z.number().int(),
			pending: z.number().int(),
			refused: z.number().int(),
			posted_cents: Cents,
			pending_cents: Cents,
		}),
		last_error: z.string().nullable(),
		next_attempt_at: z.string().nullable().openapi({ format: "date-time" }),
		shares: z.array(
			z.object({
				nation: z.string(),
				serving_region: z.enum(SERVING_REGIONS),
				weight_cents: Cents,
				share_cents: Cents,
				extra_cent: z
					.boolean()
					.openapi({ description: "Whether the share includes one of the cents left over by rounding" }),
				transfer_id: z
					.string()
					.nullable()
					.openapi({ description: "The share's transfer on the nation's ledger; null for a zero share" }),
				state: z.enum(SHARE_STATES),
				ledger_sequence: z.number().int().nullable(),
				entry_hash: z.string().nullable(),
				posted_at: z.string().nullable().openapi({ format: "date-time" }),
				attempts: z.number().int(),
				last_error: z.string().nullable(),
			}),
		),
	})
	.openapi("Distribution") satisfies z.ZodType<DistributionView>;
export type DistributionResponse = z.infer<typeof DistributionSchema>;

export const DistributionIdParam = z.object({
	id: z
		.string()
		.max(64)
		.openapi({ param: { name: "id", in: "path" }, example: "dist_4f1c2b0e5d1a4b8e9a510c2f3e4d5a6b" }),
});

/**
 * Who may see a distribution: a fund-wide reader, or one whose scope covers the project (its sector, host nation
 * or serving region) or one of the nations paid. Anyone else gets a 404, as if it did not exist.
 */
export function assertCanSee(c: Context<AppEnv>, view: DistributionView): void {
	const principal = c.var.principal;
	const { project } = view;
	const visible =
		principal.can("distributions:read", {
			sector: project.sector,
			nation: project.nation,
			region: project.serving_region,
		}) ||
		view.shares.some((s) =>
			principal.can("distributions:read", { nation: s.nation, region: s.serving_region }),
		);
	if (!visible) throw new ApiError("not_found", `Distribution ${view.id} was not found`);
}
