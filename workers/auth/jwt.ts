import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from "jose";
import { ApiError } from "../lib/problem.ts";

/** Only asymmetric algorithms: an HMAC "signed" with a public key, or `alg: none`, can never verify. */
export const ALLOWED_ALGORITHMS = ["RS256", "ES256", "EdDSA"];
/** RFC 9068 access tokens say `at+jwt`; Auth0 and Okta still issue plain `JWT`. */
const ALLOWED_TYP = new Set(["at+jwt", "jwt", "application/at+jwt"]);
export const CLOCK_TOLERANCE_SECONDS = 30;

type RemoteJwks = ReturnType<typeof createRemoteJWKSet>;
const jwksCache = new Map<string, RemoteJwks>();

/**
 * One remote key set per JWKS URL per isolate: keys are cached across requests for 10 minutes; an unknown
 * `kid` triggers at most one refetch per 30 s. When the issuer is unreachable after the cache expires,
 * verification fails closed.
 */
function remoteJwks(url: string): RemoteJwks {
	let jwks = jwksCache.get(url);
	if (!jwks) {
		jwks = createRemoteJWKSet(new URL(url), {
			cacheMaxAge: 10 * 60_000,
			cooldownDuration: 30_000,
			timeoutDuration: 3_000,
		});
		jwksCache.set(url, jwks);
	}
	return jwks;
}

export interface VerifiedToken {
	payload: JWTPayload & { scope?: string; scp?: string[] | string };
}

export async function verifyAccessToken(
	token: string,
	env: Pick<Env, "AUTH_ISSUER" | "AUTH_AUDIENCE" | "AUTH_JWKS_URL">,
): Promise<VerifiedToken> {
	try {
		const { payload, protectedHeader } = await jwtVerify(token, remoteJwks(env.AUTH_JWKS_URL), {
			issuer: env.AUTH_ISSUER,
			audience: env.AUTH_AUDIENCE,
			algorithms: ALLOWED_ALGORITHMS,
			clockTolerance: CLOCK_TOLERANCE_SECONDS,
			requiredClaims: ["sub", "exp", "iat"],
		});
		if (!protectedHeader.typ || !ALLOWED_TYP.has(protectedHeader.typ.toLowerCase())) {
			throw new ApiError("unauthorized", "The token's typ header must be at+jwt or JWT");
		}
		return { payload };
	} catch (error) {
		if (error instanceof ApiError) throw error;
		throw new ApiError("unauthorized", describeJoseError(error), {
			headers: { "www-authenticate": 'Bearer error="invalid_token"' },
		});
	}
}

function describeJoseError(error: unknown): string {
	if (error instanceof errors.JWTExpired) return "The token has expired";
	if (error instanceof errors.JWTClaimValidationFailed)
		return `The token's ${error.claim} claim is not accepted`;
	if (error instanceof errors.JWKSNoMatchingKey)
		return "The token was signed by a key the issuer does not publish";
	if (error instanceof errors.JOSEAlgNotAllowed) return "The token's signing algorithm is not allowed";
	if (error instanceof errors.JWSSignatureVerificationFailed) return "The token's signature does not verify";
	if (
		error instanceof errors.JWKSTimeout ||
		(error instanceof Error && /fetch|network|JWKS/i.test(error.message))
	) {
		return "The issuer's signing keys cannot be fetched; no token can be verified until they can";
	}
	if (error instanceof errors.JOSEError) return `The token is invalid (${error.code})`;
	return "The token is malformed";
}

/** Reads the scopes from `scope` (space-separated, OAuth) or `scp` (array, Okta). */
export function scopeClaim(payload: VerifiedToken["payload"]): string {
	if (typeof payload.scope === "string") return payload.scope;
	if (Array.isArray(payload.scp)) return payload.scp.join(" ");
	if (typeof payload.scp === "string") return payload.scp;
	return "";
}
