import { compactVerify, createLocalJWKSet, decodeProtectedHeader, errors, type JSONWebKeySet } from "jose";
import { z } from "zod";

/**
 * Signed checkpoints of a nation's ledger (docs/fund.md): the head of its hash chain (sequence, entry hash,
 * balances digest, the head entry's time) and the time it was signed, as a compact JWS:
 *
 *   protected header  {"alg":"EdDSA","kid":"<key id>","typ":"covenant-checkpoint+jws"}
 *   payload           {"v":1,"nation":"KE","sequence":42,"hash":"<hex>","balances_digest":"<hex>",
 *                      "head_time":"2026-05-01T12:00:00.000Z","time":"2026-05-02T08:00:00.000Z"}
 *
 * signed with Ed25519 (RFC 8037). The public keys, with their `kid`, are at /.well-known/covenant-keys.json.
 * `typ` keeps a checkpoint from ever being accepted as anything else (a JWT, another JWS) and vice versa.
 * Pure (jose and zod only): the worker, the verifier CLI and the tests share it.
 */
export const CHECKPOINT_TYPE = "covenant-checkpoint+jws";
export const CHECKPOINT_ALGORITHM = "EdDSA";
export const CHECKPOINT_VERSION = 1;

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, { error: "expected 64 lower-case hex digits" });
const IsoTime = z.iso.datetime({ offset: false, precision: 3 });

export const CheckpointPayload = z.strictObject({
	v: z.literal(CHECKPOINT_VERSION),
	nation: z.string().regex(/^[A-Z]{2}$/),
	sequence: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
	hash: Hex64,
	balances_digest: Hex64,
	head_time: IsoTime.nullable(),
	time: IsoTime,
});
export type CheckpointPayload = z.infer<typeof CheckpointPayload>;

/** The head a checkpoint signs, in the member order it is serialised in. */
export function checkpointPayload(
	nation: string,
	head: { sequence: number; hash: string; balances_digest: string; timestamp: string | null },
	signedAt: Date,
): CheckpointPayload {
	return {
		v: CHECKPOINT_VERSION,
		nation,
		sequence: head.sequence,
		hash: head.hash,
		balances_digest: head.balances_digest,
		head_time: head.timestamp,
		time: signedAt.toISOString(),
	};
}

export type CheckpointCheck =
	| { ok: true; checkpoint: CheckpointPayload; kid: string }
	| {
			ok: false;
			reason: "malformed" | "wrong_type" | "unknown_key" | "bad_signature" | "invalid_payload";
			detail: string;
	  };

/**
 * Verifies a checkpoint's signature against the published keys and parses its payload. Only EdDSA is accepted,
 * whatever the header says, so no algorithm confusion is possible; the key is the one the header's `kid` names.
 */
export async function verifyCheckpoint(jws: string, keys: JSONWebKeySet): Promise<CheckpointCheck> {
	let header: ReturnType<typeof decodeProtectedHeader>;
	try {
		header = decodeProtectedHeader(jws);
	} catch (error) {
		return { ok: false, reason: "malformed", detail: `not a compact JWS: ${String(error)}` };
	}
	if (header.typ !== CHECKPOINT_TYPE) {
		return {
			ok: false,
			reason: "wrong_type",
			detail: `the JWS's typ is ${JSON.stringify(header.typ)}, not ${CHECKPOINT_TYPE}: it is not a ledger checkpoint`,
		};
	}
	if (typeof header.kid !== "string") {
		return { ok: false, reason: "unknown_key", detail: "the checkpoint names no key (kid)" };
	}
	let payload: Uint8Array;
	try {
		const verified = await compactVerify(jws, createLocalJWKSet(keys), {
			algorithms: [CHECKPOINT_ALGORITHM],
		});
		payload = verified.payload;
	} catch (error) {
		if (error instanceof errors.JWKSNoMatchingKey) {
			return {
				ok: false,
				reason: "unknown_key",
				detail: `no published key has kid ${JSON.stringify(header.kid)} (keys published: ${keys.keys.map((k) => k.kid).join(", ") || "none"})`,
			};
		}
		if (error instanceof errors.JWSSignatureVerificationFailed) {
			return {
				ok: false,
				reason: "bad_signature",
				detail: `the signature does not verify with key ${header.kid}`,
			};
		}
		if (error instanceof errors.JOSEAlgNotAllowed) {
			return {
				ok: false,
				reason: "bad_signature",
				detail: `algorithm ${String(header.alg)} is not ${CHECKPOINT_ALGORITHM}`,
			};
		}
		return { ok: false, reason: "malformed", detail: String(error) };
	}
	let json: unknown;
	try {
		json = JSON.parse(new TextDecoder().decode(payload));
	} catch {
		return { ok: false, reason: "invalid_payload", detail: "the signed payload is not JSON" };
	}
	const parsed = CheckpointPayload.safeParse(json);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		return {
			ok: false,
			reason: "invalid_payload",
			detail: `the signed payload is not a version-${CHECKPOINT_VERSION} checkpoint: ${issue?.path.join(".")}: ${issue?.message}`,
		};
	}
	return { ok: true, checkpoint: parsed.data, kid: header.kid };
}
