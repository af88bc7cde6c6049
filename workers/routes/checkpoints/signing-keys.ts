import { type CheckpointKeyring, KeyringError, loadKeyring } from "../../domain/verify/keyring.ts";
import { ApiError } from "../../lib/problem.ts";

/** The checkpoint keys are a secret (`wrangler secret put CHECKPOINT_SIGNING_KEYS`), absent from the generated Env. */
export type CheckpointSigningEnv = { CHECKPOINT_SIGNING_KEYS?: string };

/** One keyring per isolate, for the secret it was built from (a rotated secret replaces it): bounded to one entry. */
let cached: { secret: string | undefined; keyring: Promise<CheckpointKeyring> } | undefined;

/** The deployment's checkpoint keyring, or a 503 problem naming what is wrong with its configuration. */
export async function checkpointKeyring(env: Env): Promise<CheckpointKeyring> {
	const secret = (env as Env & CheckpointSigningEnv).CHECKPOINT_SIGNING_KEYS;
	if (!cached || cached.secret !== secret) cached = { secret, keyring: loadKeyring(secret) };
	try {
		return await cached.keyring;
	} catch (error) {
		cached = undefined;
		if (!(error instanceof KeyringError)) throw error;
		console.error(JSON.stringify({ msg: "checkpoint signing is misconfigured", error: error.message }));
		throw new ApiError(
			"unavailable",
			`Ledger checkpoints cannot be signed on this deployment: ${error.message} (see docs/fund.md)`,
		);
	}
}
