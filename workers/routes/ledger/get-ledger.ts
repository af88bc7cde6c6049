import { z } from "@hono/zod-openapi";
import { ledgerOf } from "../../../durable-objects/nation-ledger/client.ts";
import type { App } from "../../app.ts";
import { ACCOUNT_CODES } from "../../domain/ledger/accounts.ts";
import type { LedgerView } from "../../domain/ledger/views.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { ledgerNation, NationCodeParam } from "./schema.ts";

const Cents = z.number().int();

export const LedgerSchema = z
	.object({
		nation: z.string(),
		currency: z.literal("USD"),
		accounts: z.array(
			z.object({
				code: z.enum(ACCOUNT_CODES),
				number: z.number().int(),
				name: z.string(),
				class: z.enum(["asset", "liability", "equity", "income", "expense"]),
				normal_balance: z.enum(["debit", "credit"]),
				constraint: z.enum(["debits_must_not_exceed_credits", "credits_must_not_exceed_debits", "none"]),
				debits_pending: Cents,
				debits_posted: Cents,
				credits_pending: Cents,
				credits_posted: Cents,
				balance: Cents.openapi({ description: "Posted balance on the account's normal side" }),
				available: Cents.openapi({ description: "Balance less pending holds against it" }),
			}),
		),
		totals: z
			.object({ debits_posted: Cents, credits_posted: Cents, debits_pending: Cents, credits_pending: Cents })
			.openapi({ description: "Sums over all accounts: debits always equal credits" }),
		head: z.object({
			sequence: z.number().int(),
			hash: z.string(),
			timestamp: z.string().nullable(),
			balances_digest: z.string(),
		}),
		projection: z
			.object({
				lag_entries: z.number().int(),
				lag_ms: z.number().int(),
				projected_sequence: z.number().int(),
				last_projected_at: z.string().nullable(),
				consecutive_failures: z.number().int(),
				last_error: z.string().nullable(),
				next_attempt_at: z.string().nullable(),
			})
			.openapi({ description: "How far the Postgres projection (and its events) lags this ledger" }),
	})
	.openapi("Ledger") satisfies z.ZodType<LedgerView>;
export type GetLedgerResponse = z.infer<typeof LedgerSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/nations/{code}/ledger",
	tags: ["ledger"],
	summary: "A nation's ledger: balances per account, the hash chain's head, the projection lag",
	description:
		"Read from the nation's ledger object itself (strongly consistent), not from the Postgres projection.",
	access: { permission: "ledger:read" },
	request: { params: NationCodeParam },
	responses: {
		200: { description: "The ledger", content: { "application/json": { schema: LedgerSchema } } },
		...problemResponses(404),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const nation = ledgerNation(c, c.req.valid("param").code, "ledger:read");
		const ledger = await ledgerOf(c.env, nation).balances();
		c.header("cache-control", "no-store");
		return c.json<GetLedgerResponse, 200>(ledger, 200);
	});
