import { CompactSign, compactVerify, importJWK, type JSONWebKeySet, type JWK } from "jose";
import { z } from "zod";
import { CHECKPOINT_ALGORITHM, CHECKPOINT_TYPE, type CheckpointPayload } from "./checkpoint.ts";

/**
 * The checkpoint signing keys: the `CHECKPOINT_SIGNING_KEYS` secret, a JSON array of Ed25519 JWKs, each with a
 * unique `kid`, newest first:
 *
 * - the first key that carries its private part (`d`) signs every new checkpoint;
 * - every key in the array, private or public-only, is published at /.well-known/covenant-keys.json, so
 *   checkpoints signed by older keys still verify.
 *
 * Rotation: put a new private key at the front; keep the previous one (or only its public part, without `d`) for
 * as long as checkpoints it signed must verify. See docs/fund.md.
 */
const Base64Url32 = z.string().regex(/^[A-Za-z0-9_-]{43}$/, { error: "expected 32 bytes in base64url" });

const KeyringEntry = z.looseObject({
	kty: z.literal("OKP", { error: "checkpoint keys are OKP (Ed25519) JWKs" }),
	crv: z.literal("Ed25519", { error: "checkpoint keys use the Ed25519 curve" }),
	x: Base64Url32,
	d: Base64Url32.optional(),
	kid: z
		.string()
		.regex(/^[A-Za-z0-9._:-]{1,100}$/, { error: "kid: 1-100 characters of letters, digits and . _ : -" }),
});

const KeyringSchema = z
	.array(KeyringEntry)
	.min(1, { error: "at least one key is needed" })
	.refine((keys) => new Set(keys.map((k) => k.kid)).size === keys.length, {
		error: "every kid must be unique",
	})
	.refine((keys) => keys.some((k) => k.d !== undefined), {
		error: "no key carries its private part (d), so nothing can sign",
	});

export class KeyringError extends Error {
	constructor(message: string) {
		super(`CHECKPOINT_SIGNING_KEYS: ${message}`);
		this.name = "KeyringError";
	}
}

export interface PublicCheckpointKey {
	kty: "OKP";
	crv: "Ed25519";
	x: string;
	kid: string;
	alg: typeof CHECKPOINT_ALGORITHM;
	use: "sig";
}

export interface CheckpointKeyring {
	/** The kid of the key that signs new checkpoints. */
	signingKid: string;
	/** The JWKS to publish: every key's public part, the signing key first. */
	jwks: { keys: PublicCheckpointKey[] };
	sign(payload: CheckpointPayload): Promise<string>;
}

/** Parses and checks the secret; throws KeyringError with the reason when it is missing or wrong. */
export async function loadKeyring(secret: string | undefined): Promise<CheckpointKeyring> {
	if (secret === undefined || secret.trim() === "") throw new KeyringError("not set");
	let json: unknown;
	try {
		json = JSON.parse(secret);
	} catch {
		throw new KeyringError("not JSON (expected an array of Ed25519 JWKs)");
	}
	const parsed = KeyringSchema.safeParse(json);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new KeyringError(`${issue?.path.join(".") || "(array)"}: ${issue?.message}`);
	}
	const entries = parsed.data;
	const signer = entries.find((k) => k.d !== undefined) as (typeof entries)[number] & { d: string };
	const jwks = {
		keys: entries.map(
			(k): PublicCheckpointKey => ({
				kty: "OKP",
				crv: "Ed25519",
				x: k.x,
				kid: k.kid,
				alg: CHECKPOINT_ALGORITHM,
				use: "sig",
			}),
		),
	};
	const privateKey = await importJWK(
		{ kty: "OKP", crv: "Ed25519", x: signer.x, d: signer.d } satisfies JWK,
		CHECKPOINT_ALGORITHM,
	);
	const sign = (payload: CheckpointPayload) =>
		new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
			.setProtectedHeader({ alg: CHECKPOINT_ALGORITHM, kid: signer.kid, typ: CHECKPOINT_TYPE })
			.sign(privateKey);
	// A `d` that is not the private half of the published `x` would sign checkpoints nobody can verify.
	const probe = await new CompactSign(new TextEncoder().encode("probe"))
		.setProtectedHeader({ alg: CHECKPOINT_ALGORITHM })
		.sign(privateKey);
	const publicKey = await importJWK(
		{ kty: "OKP", crv: "Ed25519", x: signer.x } satisfies JWK,
		CHECKPOINT_ALGORITHM,
	);
	try {
		await compactVerify(probe, publicKey);
	} catch {
		throw new KeyringError(`key ${signer.kid}: d is not the private key of x`);
	}
	// Published so the signing key comes first, then the others in the order given.
	jwks.keys.sort((a, b) => (a.kid === signer.kid ? -1 : b.kid === signer.kid ? 1 : 0));
	return { signingKid: signer.kid, jwks, sign };
}

/** The JWKS type verifiers accept (what /.well-known/covenant-keys.json serves). */
export type CovenantKeySet = JSONWebKeySet;
