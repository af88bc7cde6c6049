import { z } from "@hono/zod-openapi";
import type { App } from "../../app.ts";
import { problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { checkpointKeyring } from "../checkpoints/signing-keys.ts";

export const CovenantKeysSchema = z
	.object({
		keys: z.array(
			z.object({
				kty: z.literal("OKP"),
				crv: z.literal("Ed25519"),
				x: z.string().openapi({ description: "The public key, base64url" }),
				kid: z.string(),
				alg: z.literal("EdDSA"),
				use: z.literal("sig"),
			}),
		),
	})
	.openapi("CovenantKeys", {
		description:
			"A JWKS (RFC 7517) of the keys that sign ledger checkpoints: the current signing key first, then older keys kept so the checkpoints they signed still verify",
	});
export type CovenantKeysResponse = z.infer<typeof CovenantKeysSchema>;

/** Short enough that a newly added key is seen within minutes of a rotation. */
const MAX_AGE_SECONDS = 300;

export const route = defineRoute({
	method: "get",
	path: "/.well-known/covenant-keys.json",
	tags: ["ledger"],
	summary: "The public keys that sign ledger checkpoints (a JWKS)",
	description:
		"Public, no authentication. A checkpoint's `kid` names the key that signed it. During a rotation both keys are listed; see docs/fund.md.",
	access: { public: true },
	responses: {
		200: { description: "The key set", content: { "application/json": { schema: CovenantKeysSchema } } },
		...problemResponses(503),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const keyring = await checkpointKeyring(c.env);
		c.header("cache-control", `public, max-age=${MAX_AGE_SECONDS}`);
		return c.json<CovenantKeysResponse, 200>(keyring.jwks, 200);
	});
