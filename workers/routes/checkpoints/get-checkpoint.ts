import { z } from "@hono/zod-openapi";
import { ledgerOf } from "../../../durable-objects/nation-ledger/client.ts";
import type { App } from "../../app.ts";
import { checkpointPayload } from "../../domain/verify/checkpoint.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { ledgerNation, NationCodeParam } from "../ledger/schema.ts";
import { checkpointKeyring } from "./signing-keys.ts";

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const CheckpointSchema = z
	.object({
		nation: z.string().openapi({ example: "KE" }),
		sequence: z.number().int().openapi({ description: "The last entry's sequence (0 for an empty ledger)" }),
		hash: Hex64.openapi({ description: "The last entry's hash (64 zeros for an empty ledger)" }),
		balances_digest: Hex64.openapi({ description: "SHA-256 of the canonical balances after that entry" }),
		head_time: z.string().nullable().openapi({ format: "date-time", description: "The last entry's time" }),
		time: z.string().openapi({ format: "date-time", description: "When the checkpoint was signed" }),
		kid: z.string().openapi({ description: "The signing key's id in /.well-known/covenant-keys.json" }),
		jws: z.string().openapi({
			description:
				"The checkpoint as a compact JWS (EdDSA/Ed25519, typ covenant-checkpoint+jws) whose payload carries the members above: verify this, not the plain copies",
		}),
	})
	.openapi("LedgerCheckpoint");
export type GetCheckpointResponse = z.infer<typeof CheckpointSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/nations/{code}/ledger/checkpoint",
	tags: ["ledger"],
	summary: "A signed checkpoint of a nation's ledger: the head of its hash chain and its balances digest",
	description:
		"Signed with the deployment's Ed25519 checkpoint key (public keys at /.well-known/covenant-keys.json). Re-hash the entries up to `sequence` (GET .../ledger/entries?from_seq=1&to_seq=N) and replay their balances to check it from outside, e.g. with `npm run verify:ledger` (docs/fund.md). Keep a checkpoint to prove later that the ledger still extends it.",
	access: { permission: "ledger:read" },
	request: { params: NationCodeParam },
	responses: {
		200: {
			description: "The signed checkpoint",
			content: { "application/json": { schema: CheckpointSchema } },
		},
		...problemResponses(404, 503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const nation = ledgerNation(c, c.req.valid("param").code, "ledger:read");
		const keyring = await checkpointKeyring(c.env);
		const head = await ledgerOf(c.env, nation).head();
		const payload = checkpointPayload(nation.iso2, head, new Date());
		const jws = await keyring.sign(payload);
		c.header("cache-control", "no-store");
		return c.json<GetCheckpointResponse, 200>(
			{
				nation: payload.nation,
				sequence: payload.sequence,
				hash: payload.hash,
				balances_digest: payload.balances_digest,
				head_time: payload.head_time,
				time: payload.time,
				kid: keyring.signingKid,
				jws,
			},
			200,
		);
	});
