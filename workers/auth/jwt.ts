import { createRemoteJWKSet, errors, type JWTHeaderParameters, type JWTPayload, jwtVerify } from "jose";
import { ApiError } from "../lib/problem.ts";
import { BoundedCache } from "./bounded-cache.ts";

/** Only asymmetric algorithms: an HMAC "signed" with a public key, or `alg: none`, can never verify. */
export const ALLOWED_ALGORITHMS = ["RS256", "ES256", "EdDSA"];
/**
 * The `typ` headers accepted when AUTH_TOKEN_TYPES does not say otherwise: RFC 9068 access tokens say `at+jwt`,
 * Auth0 plain `JWT`. Okta's custom authorization servers send none: their deployments add `none` to the list.
 */
export const DEFAULT_TOKEN_TYPES = "at+jwt,jwt";
export const CLOCK_TOLERANCE_SECONDS = 30;
/**
 * The longest lifetime (exp - iat) a token may claim. Revocations only need to be remembered this long, and a
 * leaked long-lived token cannot outlast it. Auth0 and Okta default to 24 h and 1 h.
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;
/** How long fetched signing keys are trusted without refetching; after that an unreachable issuer fails closed. */
export const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
/** An unknown `kid` triggers at most one refetch per this interval (key rotation), never one per request. */
export const JWKS_COOLDOWN_MS = 30_000;

type RemoteJwks = ReturnType<typeof createRemoteJWKSet>;
/** One key set per JWKS URL per isolate; configuration names one URL, so this holds one entry in practice. */
const jwksCache = new Map<string, RemoteJwks>();
const MAX_JWKS_SETS = 8;

function remoteJwks(url: string): RemoteJwks {
	let jwks = jwksCache.get(url);
	if (!jwks) {
		if (jwksCache.size >= MAX_JWKS_SETS) jwksCache.clear();
		jwks = createRemoteJWKSet(new URL(url), {
			cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
			cooldownDuration: JWKS_COOLDOWN_MS,
			timeoutDuration: 3_000,
		});
		jwksCache.set(url, jwks);
	}
	return jwks;
}

/** The signing keys could not be fetched: no token can be verified, so nothing is let through. */
class IssuerUnreachable extends Error {}

export interface AccessTokenClaims extends JWTPayload {
	sub: string;
	exp: number;
	iat: number;
	scope?: string;
	scp?: string[] | string;
	permissions?: string[];
}

export interface VerifiedToken {
	payload: AccessTokenClaims;
	header: JWTHeaderParameters;
}

export type JwtConfig = Pick<Env, "AUTH_ISSUER" | "AUTH_AUDIENCE" | "AUTH_JWKS_URL"> &
	Partial<Pick<Env, "ENVIRONMENT" | "AUTH_TOKEN_TYPES">>;

const tokenTypeSets = new Map<string, ReadonlySet<string>>();

/** AUTH_TOKEN_TYPES as a set of lower-case `typ` values without `application/`; `none` admits a missing typ. */
function acceptedTokenTypes(env: JwtConfig): ReadonlySet<string> {
	const list = env.AUTH_TOKEN_TYPES || DEFAULT_TOKEN_TYPES;
	let types = tokenTypeSets.get(list);
	if (!types) {
		types = new Set(
			list
				.split(",")
				.map((t) => normalizeTyp(t.trim()))
				.filter(Boolean),
		);
		tokenTypeSets.set(list, types);
	}
	return types;
}

function normalizeTyp(typ: string): string {
	return typ.toLowerCase().replace(/^application\//, "");
}

/**
 * Verifies a bearer JWT against the configured issuer's JWKS: signature by a published key (unknown `kid`
 * refused), an allow-listed asymmetric algorithm, `iss`, `aud`, `exp`/`nbf`/`iat` within the clock tolerance,
 * a bounded lifetime, and the `typ` header. Throws 401 problems for bad tokens and 503 when the issuer's
 * keys cannot be fetched (fail closed).
 */
export async function verifyAccessToken(token: string, env: JwtConfig): Promise<VerifiedToken> {
	// (cachedVerification refuses an insecure production issuer first.)
	// Added by the read-API helper (issue 3, see docs/read-api.md "Benchmark"): a client sends the same token
	// on every request, and checking its signature was the most expensive step of a cached read.
	const known = cachedVerification(token, env);
	if (known) return known;
	const config = verifyingConfig(env);
	const now = Date.now();
	const verified = await verifySignedToken(token, env);
	const ttl = Math.min(
		VERIFIED_TOKEN_TTL_MS,
		verified.payload.exp * 1000 - now,
		(verified.payload.iat + MAX_TOKEN_LIFETIME_SECONDS) * 1000 - now,
	);
	if (ttl > 0) verifiedTokens.set(token, { config, verified }, ttl, now);
	return verified;
}

/**
 * This isolate's cached verification of the token under this configuration (what `verifyAccessToken` answers
 * without checking the signature), or undefined. Synchronous: for the isolate hot path.
 */
export function cachedVerification(
	token: string,
	env: JwtConfig,
	now = Date.now(),
): VerifiedToken | undefined {
	assertProductionIssuer(env);
	const known = verifiedTokens.get(token, now);
	return known && known.config === verifyingConfig(env) ? known.verified : undefined;
}

const configKeys = new WeakMap<object, string>();

/**
 * What a verification depends on besides the token, as one string, computed once per env object: a cached
 * verification is only reused under the configuration that made it.
 */
function verifyingConfig(env: JwtConfig): string {
	let key = configKeys.get(env);
	if (key === undefined) {
		key = `${env.AUTH_ISSUER}\n${env.AUTH_AUDIENCE}\n${env.AUTH_JWKS_URL}\n${env.AUTH_TOKEN_TYPES ?? ""}`;
		configKeys.set(env, key);
	}
	return key;
}

/**
 * Tokens this isolate has verified, so a client's next request skips the signature check (about 125 µs of
 * the ~700 µs of worker CPU a cached read costs under `npm run bench:read`). An entry lives at most
 * VERIFIED_TOKEN_TTL_MS and never past the token's `exp` or its lifetime cap, so a signing key the issuer
 * stops publishing is no longer honoured a minute later; only successes are kept. Revocation is unaffected:
 * authenticate() checks every request against the live revocation list after this. Keyed by the whole token,
 * and used only under the configuration that verified it; bounded in entries and bytes. A hit returns the
 * same VerifiedToken object, which lets authenticate() keep the principal it built from it.
 */
const verifiedTokens = new BoundedCache<string, { config: string; verified: VerifiedToken }>({
	maxEntries: 2_000,
	maxBytes: 4_000_000,
	// The token as key, and its decoded header and claims (never longer than the token) as value.
	sizeOf: (token, value) => (token.length * 2 + value.config.length) * 2 + 512,
});
export const VERIFIED_TOKEN_TTL_MS = 60_000;

/** The full verification, without the cache. */
async function verifySignedToken(token: string, env: JwtConfig): Promise<VerifiedToken> {
	const jwks = remoteJwks(env.AUTH_JWKS_URL);
	try {
		const { payload, protectedHeader } = await jwtVerify(
			token,
			async (header, input) => {
				try {
					return await jwks(header, input);
				} catch (error) {
					if (
						error instanceof errors.JWKSNoMatchingKey ||
						error instanceof errors.JWKSMultipleMatchingKeys ||
						error instanceof errors.JOSENotSupported
					) {
						throw error;
					}
					throw new IssuerUnreachable(error instanceof Error ? error.message : String(error));
				}
			},
			{
				issuer: env.AUTH_ISSUER,
				audience: env.AUTH_AUDIENCE,
				algorithms: ALLOWED_ALGORITHMS,
				clockTolerance: CLOCK_TOLERANCE_SECONDS,
				maxTokenAge: MAX_TOKEN_LIFETIME_SECONDS,
				requiredClaims: ["sub", "exp", "iat"],
			},
		);
		const accepted = acceptedTokenTypes(env);
		const typ = protectedHeader.typ === undefined ? "none" : normalizeTyp(protectedHeader.typ);
		if (!accepted.has(typ)) {
			throw invalidToken(`The token's typ header must be one of ${[...accepted].join(", ")}`);
		}
		if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 255) {
			throw invalidToken("The token's sub claim must be a non-empty string");
		}
		const exp = payload.exp as number;
		const iat = payload.iat as number;
		if (exp - iat > MAX_TOKEN_LIFETIME_SECONDS) {
			throw invalidToken(`The token's lifetime exceeds ${MAX_TOKEN_LIFETIME_SECONDS} seconds`);
		}
		return { payload: payload as AccessTokenClaims, header: protectedHeader };
	} catch (error) {
		if (error instanceof ApiError) throw error;
		if (error instanceof IssuerUnreachable) {
			console.error(
				JSON.stringify({ msg: "jwks unreachable", url: env.AUTH_JWKS_URL, error: error.message }),
			);
			throw new ApiError(
				"unavailable",
				"The identity provider's signing keys cannot be fetched; no token can be verified until they can",
				{ headers: { "retry-after": "5" } },
			);
		}
		throw invalidToken(describeJoseError(error));
	}
}

export function invalidToken(detail: string): ApiError {
	return new ApiError("unauthorized", detail, {
		headers: { "www-authenticate": `Bearer realm="covenant", error="invalid_token"` },
	});
}

function describeJoseError(error: unknown): string {
	if (error instanceof errors.JWTExpired) return "The token has expired";
	if (error instanceof errors.JWTClaimValidationFailed)
		return `The token's ${error.claim} claim is not accepted`;
	if (error instanceof errors.JWKSNoMatchingKey)
		return "The token was signed by a key the issuer does not publish";
	if (error instanceof errors.JOSEAlgNotAllowed) return "The token's signing algorithm is not allowed";
	if (error instanceof errors.JWSSignatureVerificationFailed) return "The token's signature does not verify";
	if (error instanceof errors.JOSEError) return `The token is invalid (${error.code})`;
	return "The token is malformed";
}

const checkedProductionConfigs = new WeakSet<object>();

/** The local dev issuer (plain http on loopback) must never be trusted by a production deploy. */
function assertProductionIssuer(env: JwtConfig): void {
	if (env.ENVIRONMENT !== "production" || checkedProductionConfigs.has(env)) return;
	for (const url of [env.AUTH_ISSUER, env.AUTH_JWKS_URL]) {
		const parsed = new URL(url);
		if (parsed.protocol !== "https:" || /^(127\.|localhost$|\[::1\]$)/.test(parsed.hostname)) {
			console.error(JSON.stringify({ msg: "insecure issuer in production", url }));
			throw new ApiError("unavailable", "Authentication is misconfigured on this deployment");
		}
	}
	checkedProductionConfigs.add(env);
}

/**
 * The scopes of a token: `scope` (space-separated, OAuth 2), `scp` (Okta, array or string) and `permissions`
 * (Auth0 RBAC), merged.
 */
export function scopeClaim(payload: Pick<AccessTokenClaims, "scope" | "scp" | "permissions">): string {
	const parts: string[] = [];
	if (typeof payload.scope === "string") parts.push(payload.scope);
	if (Array.isArray(payload.scp)) parts.push(...payload.scp.filter((s) => typeof s === "string"));
	else if (typeof payload.scp === "string") parts.push(payload.scp);
	if (Array.isArray(payload.permissions)) {
		parts.push(...payload.permissions.filter((s) => typeof s === "string"));
	}
	return [...new Set(parts.join(" ").split(/\s+/).filter(Boolean))].join(" ");
}
