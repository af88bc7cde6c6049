import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname } from "node:path";
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";

/**
 * The local OIDC issuer for development and tests: an ES256 key pair whose public half is served as a JWKS,
 * exactly as Auth0/Okta serve theirs. Never part of a production deploy: only scripts/ and test/ use it.
 */
export interface DevIssuerKey {
	privateJwk: JWK;
	publicJwk: JWK;
}

export async function createIssuerKey(kid = `dev-${Date.now().toString(36)}`): Promise<DevIssuerKey> {
	const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
	const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" };
	const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
	return { privateJwk, publicJwk };
}

/** Loads the key from `file`, creating it on first use so tokens minted earlier stay valid across restarts. */
export async function loadOrCreateIssuerKey(file: string): Promise<DevIssuerKey> {
	if (existsSync(file)) return JSON.parse(await readFile(file, "utf8")) as DevIssuerKey;
	const key = await createIssuerKey();
	await mkdir(dirname(file), { recursive: true });
	await writeFile(file, JSON.stringify(key, null, 2), { mode: 0o600 });
	return key;
}

export interface RunningIssuer {
	issuer: string;
	jwksUrl: string;
	port: number;
	close(): Promise<void>;
}

/** Serves `/.well-known/jwks.json` and `/.well-known/openid-configuration` on 127.0.0.1. */
export async function serveIssuer(keys: JWK[], port = 0): Promise<RunningIssuer> {
	let issuer = "";
	const server = createServer((req, res) => {
		if (req.url === "/.well-known/jwks.json") {
			res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=600" });
			res.end(JSON.stringify({ keys }));
		} else if (req.url === "/.well-known/openid-configuration") {
			res.writeHead(200, { "content-type": "application/json" });
			res.end(
				JSON.stringify({
					issuer,
					jwks_uri: `${issuer}/.well-known/jwks.json`,
					id_token_signing_alg_values_supported: ["ES256"],
				}),
			);
		} else {
			res.writeHead(404).end();
		}
	});
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, "127.0.0.1", () => resolve());
	});
	const address = server.address();
	const actualPort = typeof address === "object" && address ? address.port : port;
	issuer = `http://127.0.0.1:${actualPort}`;
	return {
		issuer,
		jwksUrl: `${issuer}/.well-known/jwks.json`,
		port: actualPort,
		close: () =>
			new Promise<void>((resolve) => {
				server.close(() => resolve());
				server.closeAllConnections();
			}),
	};
}

export interface MintOptions {
	sub: string;
	scope?: string;
	issuer: string;
	audience: string;
	expiresIn?: string | number;
	claims?: Record<string, unknown>;
}

export async function mintToken(key: DevIssuerKey, options: MintOptions): Promise<string> {
	const privateKey = await importJWK(key.privateJwk, "ES256");
	return new SignJWT({ scope: options.scope ?? "", ...options.claims })
		.setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: key.privateJwk.kid })
		.setIssuer(options.issuer)
		.setAudience(options.audience)
		.setSubject(options.sub)
		.setIssuedAt()
		.setJti(crypto.randomUUID())
		.setExpirationTime(options.expiresIn ?? "1h")
		.sign(privateKey);
}
