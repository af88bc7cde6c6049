import { join } from "node:path";
import { importJWK, type JWK, SignJWT } from "jose";
import { unstable_startWorker } from "wrangler";
import { type PreparedDatabase, prepareDatabase } from "../../../scripts/lib/database.ts";
import { createIssuerKey, type RunningIssuer, serveIssuer } from "../../../scripts/lib/dev-issuer.ts";
import { startWsProxy, type WsProxy } from "../../../scripts/lib/ws-proxy.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const AUDIENCE = "https://api.covenant.example";

/**
 * The whole edge stack for a Node-side client test: a fresh migrated and seeded Postgres (a new database on
 * TEST_DATABASE_URL's server, else an in-memory PGlite), the Neon-compatible WebSocket proxy, a local OIDC
 * issuer, and the worker itself, bundled and run in workerd by wrangler's programmatic API
 * (`unstable_startWorker`) with its own wrangler.toml bindings (KV, Durable Objects, queues) and the test's
 * database and issuer.
 */
export interface EdgeStack {
	/** The worker's origin, e.g. http://127.0.0.1:40123 */
	url: string;
	databaseUrl: string;
	databaseKind: string;
	/** A bearer token for `scope`, as `sub`. */
	token(scope: string, sub: string): Promise<string>;
	close(): Promise<void>;
}

export async function startEdgeStack(): Promise<EdgeStack> {
	const cleanups: (() => Promise<unknown>)[] = [];
	const close = async () => {
		for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
	};
	try {
		const database: PreparedDatabase = await prepareDatabase({
			serverUrl: process.env.TEST_DATABASE_URL,
			fresh: true,
			seed: true,
		});
		cleanups.push(() => database.dispose());
		const proxy: WsProxy = await startWsProxy();
		cleanups.push(() => proxy.close());
		const key = await createIssuerKey("node-test-key");
		const issuer: RunningIssuer = await serveIssuer([key.publicJwk]);
		cleanups.push(() => issuer.close());

		const worker = await unstable_startWorker({
			config: join(ROOT, "wrangler.toml"),
			bindings: Object.fromEntries(
				Object.entries({
					ENVIRONMENT: "test",
					BUILD_VERSION: "test",
					DATABASE_URL: database.url,
					NEON_WS_PROXY: proxy.wsProxy,
					AUTH_ISSUER: issuer.issuer,
					AUTH_AUDIENCE: AUDIENCE,
					AUTH_JWKS_URL: issuer.jwksUrl,
				}).map(([name, value]) => [name, { type: "plain_text" as const, value }]),
			),
			dev: {
				server: { hostname: "127.0.0.1", port: 0 },
				inspector: false,
				persist: false,
				watch: false,
				logLevel: "warn",
			},
		});
		cleanups.push(() => worker.dispose());
		await worker.ready;
		const url = (await worker.url).origin;

		const privateKey = await importJWK(key.privateJwk as JWK, "ES256");
		return {
			url,
			databaseUrl: database.url,
			databaseKind: database.kind,
			token: (scope, sub) =>
				new SignJWT({ scope })
					.setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: key.privateJwk.kid })
					.setIssuer(issuer.issuer)
					.setAudience(AUDIENCE)
					.setSubject(sub)
					.setIssuedAt()
					.setJti(crypto.randomUUID())
					.setExpirationTime("10m")
					.sign(privateKey),
			close,
		};
	} catch (error) {
		await close();
		throw error;
	}
}
