import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { exportJWK, generateKeyPair } from "jose";

/**
 * Ledger checkpoint signing keys for development and tests: the value of the CHECKPOINT_SIGNING_KEYS secret
 * (docs/fund.md), a JSON array holding one Ed25519 private JWK. Production sets its own with
 * `wrangler secret put CHECKPOINT_SIGNING_KEYS`; only scripts/ and test/ use these.
 */
export async function createCheckpointKeys(kid = `checkpoint-${Date.now().toString(36)}`): Promise<string> {
	const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
	const jwk = await exportJWK(privateKey);
	return JSON.stringify([{ kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d, kid }]);
}

/** Loads the keys from `file`, creating them on first use so checkpoints saved earlier keep verifying. */
export async function loadOrCreateCheckpointKeys(file: string): Promise<string> {
	if (existsSync(file)) return (await readFile(file, "utf8")).trim();
	const keys = await createCheckpointKeys("dev-checkpoint-1");
	await mkdir(dirname(file), { recursive: true });
	await writeFile(file, `${keys}\n`, { mode: 0o600 });
	return keys;
}
