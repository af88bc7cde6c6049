import { env } from "cloudflare:test";
import { Principal } from "../../workers/auth/principal.ts";
import {
	hs256WithPublicKey,
	reclaimedToken,
	tamperedToken,
	tokenFor,
	tokenFromForeignKey,
	uniqueSub,
	unsignedToken,
} from "../support/auth.ts";
import { call } from "../support/http.ts";

/** Credentials the suite needs that only the API can make: a revoked token and some API keys. */
export interface Fixtures {
	revokedToken: string;
	revokedKey: string;
	viewerKey: string;
}

const bearerOf = (token: string) => ({ authorization: `Bearer ${token}` });

async function expectOk(response: Response, what: string): Promise<Record<string, unknown>> {
	const body = (await response.json()) as Record<string, unknown>;
	if (response.status >= 300) throw new Error(`${what}: ${response.status} ${JSON.stringify(body)}`);
	return body;
}

export async function makeFixtures(): Promise<Fixtures> {
	const admin = bearerOf(await tokenFor("admin", { sub: uniqueSub("security-admin") }));
	const jti = crypto.randomUUID();
	const revokedToken = await tokenFor("admin", { sub: uniqueSub("security-revoked"), jti });
	await expectOk(
		await call("/v1/admin/revocations", {
			method: "POST",
			headers: admin,
			json: { jti, reason: "security suite" },
		}),
		"revoking a token",
	);
	const revoked = await expectOk(
		await call("/v1/api-keys", {
			method: "POST",
			headers: admin,
			json: { name: "security: revoked", scopes: ["admin"] },
		}),
		"creating a key",
	);
	await expectOk(
		await call(`/v1/api-keys/${revoked.id}`, { method: "DELETE", headers: admin }),
		"revoking a key",
	);
	const viewer = await expectOk(
		await call("/v1/api-keys", {
			method: "POST",
			headers: admin,
			json: { name: "security: viewer", scopes: ["viewer"] },
		}),
		"creating a key",
	);
	return { revokedToken, revokedKey: String(revoked.key), viewerKey: String(viewer.key) };
}

/** A credential that must be refused with 401 on every protected route, before anything else happens. */
export interface BadCredential {
	name: string;
	headers: (fixtures: Fixtures) => Promise<Record<string, string>>;
}

const now = () => Math.floor(Date.now() / 1000);

export const BAD_CREDENTIALS: BadCredential[] = [
	{ name: "no credential", headers: async () => ({}) },
	{ name: "malformed: Basic scheme", headers: async () => ({ authorization: "Basic YWRtaW46YWRtaW4=" }) },
	{ name: "malformed: Bearer without a token", headers: async () => ({ authorization: "Bearer " }) },
	{ name: "malformed: not a JWT", headers: async () => bearerOf("not-a-jwt") },
	{ name: "malformed: garbage segments", headers: async () => bearerOf("eyJhbGciOi.eyJzdWIi.c2ln") },
	{ name: "bad signature (tampered)", headers: async () => bearerOf(await tamperedToken()) },
	{
		name: "bad signature (claims changed after signing)",
		headers: async () => bearerOf(await reclaimedToken()),
	},
	{
		name: "bad signature (another key, issuer's kid)",
		headers: async () => bearerOf(await tokenFromForeignKey("admin", "issuer's")),
	},
	{ name: "alg: none", headers: async () => bearerOf(unsignedToken()) },
	{
		name: "HS256 signed with the public key (PEM)",
		headers: async () => bearerOf(await hs256WithPublicKey("admin", "pem")),
	},
	{
		name: "HS256 signed with the public key (JWK)",
		headers: async () => bearerOf(await hs256WithPublicKey("admin", "jwk")),
	},
	{
		name: "expired beyond the clock tolerance",
		headers: async () =>
			bearerOf(await tokenFor("admin", { sub: uniqueSub(), iat: now() - 600, exp: now() - 120 })),
	},
	{
		name: "wrong iss",
		headers: async () =>
			bearerOf(await tokenFor("admin", { sub: uniqueSub(), issuer: "https://evil.example" })),
	},
	{
		name: "wrong aud",
		headers: async () =>
			bearerOf(await tokenFor("admin", { sub: uniqueSub(), audience: "https://other-api.example" })),
	},
	{ name: "unknown kid", headers: async () => bearerOf(await tokenFromForeignKey("admin", "unknown")) },
	{ name: "revoked token (jti)", headers: async (f) => bearerOf(f.revokedToken) },
	{
		name: "unknown API key",
		headers: async () => ({ "x-api-key": `cov_test_${"a".repeat(16)}_${"b".repeat(40)}` }),
	},
	{ name: "malformed API key", headers: async () => ({ "x-api-key": "cov_test_nope" }) },
	{ name: "revoked API key", headers: async (f) => ({ "x-api-key": f.revokedKey }) },
	{
		name: "API key of another environment",
		headers: async (f) => ({ "x-api-key": f.viewerKey.replace("cov_test_", "cov_live_") }),
	},
];

/** Token scopes tried, in order, to find a valid principal that lacks a route's permission. */
const WEAK_SCOPES = ["", "viewer", "partner", "nation:KE", "sector:energy", "region:ams"];

/**
 * Valid credentials that lack `permission`: a person's token and/or a viewer API key, whichever lack it.
 * Empty when every authenticated principal holds it (the reference data everyone may read).
 */
export async function insufficientCredentials(
	permission: string,
	fixtures: Fixtures,
): Promise<{ name: string; headers: Record<string, string> }[]> {
	const out: { name: string; headers: Record<string, string> }[] = [];
	const scope = WEAK_SCOPES.find(
		(s) => !new Principal("user", "probe", s).hasPermission(permission as never),
	);
	if (scope !== undefined) {
		out.push({
			name: `token with scope '${scope}'`,
			headers: bearerOf(await tokenFor(scope, { sub: uniqueSub("insufficient") })),
		});
	}
	if (!new Principal("api_key", "probe", "viewer").hasPermission(permission as never)) {
		out.push({ name: "viewer API key", headers: { "x-api-key": fixtures.viewerKey } });
	}
	return out;
}

/** Bindings the authentication layer itself uses (everything else must stay untouched by a refused request). */
const AUTH_BINDINGS = new Set(["AUTH_AUTHORITY", "RATE_LIMITER", "FAILED_AUTH_LIMITER"]);
/** Reads that change nothing on a KV namespace or similar storage binding. */
const READS = new Set(["get", "getWithMetadata", "list", "head"]);

/**
 * An environment in which any side effect a route could cause is recorded and refused: Postgres is
 * unreachable, every queue, KV write and Durable Object (other than the authentication layer's) is a trap.
 */
export function sideEffectTrap() {
	const touched: string[] = [];
	const overrides: Record<string, unknown> = { DATABASE_URL: "postgres://postgres@127.0.0.1:1/postgres" };
	for (const [name, binding] of Object.entries(env)) {
		if (AUTH_BINDINGS.has(name) || binding === null || typeof binding !== "object") continue;
		const isDurableObjectNamespace = typeof (binding as { idFromName?: unknown }).idFromName === "function";
		overrides[name] = new Proxy(binding, {
			get(target, property) {
				const value = Reflect.get(target, property);
				if (typeof value !== "function") return value;
				const method = String(property);
				if (!isDurableObjectNamespace && READS.has(method)) return value.bind(target);
				return (...args: unknown[]) => {
					touched.push(`${name}.${method}`);
					throw new Error(`side effect attempted: ${name}.${method}(${args.length} args)`);
				};
			},
		});
	}
	return { overrides: overrides as Partial<Env>, touched };
}
