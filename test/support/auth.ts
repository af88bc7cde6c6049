import { env } from "cloudflare:test";
import { exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { inject } from "vitest";

export interface TokenOptions {
	sub?: string;
	expiresIn?: string | number;
	claims?: Record<string, unknown>;
	/** Header overrides: another `kid`, another `typ` (null: none). */
	kid?: string;
	typ?: string | null;
	/** Claim overrides (seconds since the epoch for iat/exp/nbf). */
	issuer?: string;
	audience?: string;
	iat?: number;
	exp?: number;
	nbf?: number;
	/** null: no jti claim. */
	jti?: string | null;
	/** Sign with this key instead of the test issuer's (e.g. a key the issuer does not publish). */
	signingKey?: { key: CryptoKey | Uint8Array; alg: string };
}

function issuerJwk(): JWK {
	return JSON.parse(inject("issuerPrivateJwk")) as JWK;
}

/** Mints an access token from the test issuer (test/global-setup.ts serves its JWKS). */
export async function tokenFor(scope: string, options: TokenOptions = {}): Promise<string> {
	const jwk = issuerJwk();
	const signing = options.signingKey ?? { key: await importJWK(jwk, "ES256"), alg: "ES256" };
	const header: Record<string, unknown> = { alg: signing.alg, kid: options.kid ?? jwk.kid };
	if (options.typ !== null) header.typ = options.typ ?? "at+jwt";
	const jwt = new SignJWT({ scope, ...options.claims })
		.setProtectedHeader(header as { alg: string })
		.setIssuer(options.issuer ?? env.AUTH_ISSUER)
		.setAudience(options.audience ?? env.AUTH_AUDIENCE)
		.setSubject(options.sub ?? "test-user")
		.setIssuedAt(options.iat)
		.setExpirationTime(options.exp ?? options.expiresIn ?? "10m");
	if (options.jti !== null) jwt.setJti(options.jti ?? crypto.randomUUID());
	if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
	return jwt.sign(signing.key);
}

/** `Authorization` header value for a token with the given scope. */
export async function bearer(scope: string, sub?: string): Promise<Record<string, string>> {
	return { authorization: `Bearer ${await tokenFor(scope, { sub })}` };
}

/** A unique subject, so a test's rate-limit bucket and user record are its own. */
export function uniqueSub(label = "user"): string {
	return `${label}-${crypto.randomUUID()}`;
}

const base64url = (value: unknown) =>
	btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

const nowSeconds = () => Math.floor(Date.now() / 1000);

function standardClaims(scope: string, sub: string) {
	return {
		iss: env.AUTH_ISSUER,
		aud: env.AUTH_AUDIENCE,
		sub,
		scope,
		iat: nowSeconds(),
		exp: nowSeconds() + 600,
		jti: crypto.randomUUID(),
	};
}

/** `alg: none`: an unsigned token with otherwise valid claims. */
export function unsignedToken(scope = "admin", sub = uniqueSub("none")): string {
	return `${base64url({ alg: "none", typ: "at+jwt", kid: issuerJwk().kid })}.${base64url(standardClaims(scope, sub))}.`;
}

/** The issuer's public key, in the forms an attacker would find it: JWK and SPKI PEM. */
export async function issuerPublicKey(): Promise<{ jwk: JWK; pem: string }> {
	const { d: _private, ...jwk } = issuerJwk();
	const pem = await exportSPKI((await importJWK(jwk, "ES256", { extractable: true })) as CryptoKey);
	return { jwk, pem };
}

/**
 * The algorithm-confusion attack: HS256 "signed" with the issuer's public key as the HMAC secret (the PEM, or
 * the JWK's JSON), with the issuer's kid, hoping the verifier uses the key it finds for the kid as a secret.
 */
export async function hs256WithPublicKey(
	scope = "admin",
	form: "pem" | "jwk" = "pem",
	sub = uniqueSub("hs256"),
): Promise<string> {
	const { jwk, pem } = await issuerPublicKey();
	const secret = new TextEncoder().encode(form === "pem" ? pem : JSON.stringify(jwk));
	return tokenFor(scope, { sub, signingKey: { key: secret, alg: "HS256" } });
}

/** A token signed by a fresh key the issuer does not publish; `kid` names it (or claims the issuer's kid). */
export async function tokenFromForeignKey(
	scope = "admin",
	kid: "unknown" | "issuer's" = "unknown",
	sub = uniqueSub("foreign"),
): Promise<string> {
	const { privateKey } = await generateKeyPair("ES256");
	return tokenFor(scope, {
		sub,
		kid: kid === "unknown" ? `unknown-${crypto.randomUUID()}` : issuerJwk().kid,
		signingKey: { key: privateKey, alg: "ES256" },
	});
}

/** A valid token whose signature has been altered. */
export async function tamperedToken(scope = "admin", sub = uniqueSub("tampered")): Promise<string> {
	const token = await tokenFor(scope, { sub });
	const [header, payload, signature = ""] = token.split(".");
	const middle = Math.floor(signature.length / 2);
	const flipped = signature[middle] === "A" ? "B" : "A";
	return `${header}.${payload}.${signature.slice(0, middle)}${flipped}${signature.slice(middle + 1)}`;
}

/** A valid signature over claims changed after signing (scope escalated to admin). */
export async function reclaimedToken(sub = uniqueSub("reclaimed")): Promise<string> {
	const token = await tokenFor("viewer", { sub });
	const [header, , signature] = token.split(".");
	return `${header}.${base64url(standardClaims("admin", sub))}.${signature}`;
}
