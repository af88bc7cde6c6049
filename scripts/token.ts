/**
 * `npm run token -- --sub alice --scope "nation:KE"`: mints an access token from the local dev issuer, for
 * calling the API of `npm start` (which serves this key's JWKS on the issuer's port). The token goes to stdout
 * alone, so `TOKEN=$(npm run -s token -- --sub alice --scope admin)` works; hints go to stderr.
 *
 * Options: --sub (required), --scope (space-separated, see docs/identity.md), --email, --name,
 * --home-region (ams|iad|syd|sin|sfo|jnb), --expires (e.g. 15m, 1h, 24h; default 1h),
 * --claims '{"extra": "claims"}', --key (default .data/dev-issuer-key.json).
 *
 * It mints only for a local issuer (http on loopback, as wrangler.toml configures for development): a
 * deployment trusting Auth0/Okta never accepts these tokens, and this script refuses to pretend otherwise.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadOrCreateIssuerKey, mintToken } from "./lib/dev-issuer.ts";

const root = new URL("..", import.meta.url).pathname;
const REGIONS = ["ams", "iad", "syd", "sin", "sfo", "jnb"];

function fail(message: string): never {
	console.error(`token: ${message}`);
	process.exit(2);
}

/** A top-level `[vars]` value from wrangler.toml (the dev configuration the local stack runs with). */
function wranglerVar(name: string): string {
	const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
	const vars = /^\[vars\]\s*$([\s\S]*?)(?=^\[)/m.exec(toml)?.[1] ?? "";
	const value = new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, "m").exec(vars)?.[1];
	if (value === undefined) fail(`wrangler.toml [vars] has no ${name}`);
	return value;
}

const { values } = parseArgs({
	options: {
		sub: { type: "string" },
		scope: { type: "string", default: "" },
		email: { type: "string" },
		name: { type: "string" },
		"home-region": { type: "string" },
		expires: { type: "string", default: "1h" },
		claims: { type: "string" },
		key: { type: "string", default: join(root, ".data", "dev-issuer-key.json") },
		help: { type: "boolean", short: "h" },
	},
	strict: true,
});

if (values.help) {
	console.error(
		'usage: npm run token -- --sub alice --scope "nation:KE" [--email a@example.org] [--name Alice] [--home-region ams] [--expires 1h] [--claims \'{"k":"v"}\']',
	);
	process.exit(0);
}
if (!values.sub) fail('--sub is required, e.g. npm run token -- --sub alice --scope "nation:KE"');
if (!/^\d+[smhd]$/.test(values.expires)) fail("--expires takes a duration such as 15m, 1h or 24h");
const lifetimeSeconds =
	Number(values.expires.slice(0, -1)) * { s: 1, m: 60, h: 3600, d: 86_400 }[values.expires.at(-1) as "s"];
if (lifetimeSeconds > 86_400) fail("--expires is at most 24h: the API refuses longer-lived tokens");
if (values["home-region"] && !REGIONS.includes(values["home-region"])) {
	fail(`--home-region must be one of ${REGIONS.join(", ")}`);
}

let extra: Record<string, unknown> = {};
if (values.claims) {
	try {
		extra = JSON.parse(values.claims) as Record<string, unknown>;
	} catch {
		fail("--claims must be a JSON object");
	}
}

const issuer = wranglerVar("AUTH_ISSUER");
const audience = wranglerVar("AUTH_AUDIENCE");
const issuerUrl = new URL(issuer);
if (issuerUrl.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(issuerUrl.hostname)) {
	fail(`AUTH_ISSUER is ${issuer}, not the local dev issuer: get tokens for it from its identity provider`);
}

const key = await loadOrCreateIssuerKey(values.key);
const claims: Record<string, unknown> = { ...extra };
if (values.email) claims.email = values.email;
if (values.name) claims.name = values.name;
if (values["home-region"]) claims.home_region = values["home-region"];

const token = await mintToken(key, {
	sub: values.sub,
	scope: values.scope,
	issuer,
	audience,
	expiresIn: values.expires,
	claims,
});
process.stdout.write(`${token}\n`);
if (process.stderr.isTTY) {
	const { jti } = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as {
		jti: string;
	};
	console.error(
		`\n# ${values.sub} with scope "${values.scope}", valid ${values.expires}, jti ${jti}, signed by ${key.privateJwk.kid} (${issuer}).\n# curl -H "Authorization: Bearer $TOKEN" http://localhost:8787/v1/me`,
	);
}
