import { env } from "cloudflare:test";
import { importJWK, type JWK, SignJWT } from "jose";
import { inject } from "vitest";

/** Mints an access token from the test issuer (test/global-setup.ts serves its JWKS). */
export async function tokenFor(
	scope: string,
	options: { sub?: string; expiresIn?: string | number; claims?: Record<string, unknown> } = {},
): Promise<string> {
	const jwk = JSON.parse(inject("issuerPrivateJwk")) as JWK;
	const key = await importJWK(jwk, "ES256");
	return new SignJWT({ scope, ...options.claims })
		.setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: jwk.kid })
		.setIssuer(env.AUTH_ISSUER)
		.setAudience(env.AUTH_AUDIENCE)
		.setSubject(options.sub ?? "test-user")
		.setIssuedAt()
		.setJti(crypto.randomUUID())
		.setExpirationTime(options.expiresIn ?? "10m")
		.sign(key);
}

/** `Authorization` header value for a token with the given scope. */
export async function bearer(scope: string, sub?: string): Promise<Record<string, string>> {
	return { authorization: `Bearer ${await tokenFor(scope, { sub })}` };
}
