/**
 * `npm start`: the whole Covenant Edge stack on one machine, no Docker, no Cloudflare account.
 *
 * - Postgres: DATABASE_URL when set, otherwise an embedded PGlite persisted in .data/pglite, served on
 *   PGLITE_PORT (default 54329; 5432 may belong to a real server).
 * - A Neon-compatible WebSocket-to-TCP proxy on WS_PROXY_PORT (8788), so the worker uses the same
 *   @neondatabase/serverless code path as in production.
 * - Migrations always; seeds on first start (a second start reuses the data).
 * - The local OIDC issuer's JWKS on ISSUER_PORT (8789), for tokens from `npm run token`.
 * - `wrangler dev` on PORT (8787) with its KV, Durable Objects and Queues persisted in .data/wrangler.
 * Ctrl-C stops every child process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { loadOrCreateCheckpointKeys } from "./lib/checkpoint-keys.ts";
import { loadOrCreateIssuerKey, serveIssuer } from "./lib/dev-issuer.ts";
import { prepareDatabase } from "./lib/database.ts";
import { startWsProxy } from "./lib/ws-proxy.ts";

const root = new URL("..", import.meta.url).pathname;
const dataDir = join(root, ".data");
const port = Number(process.env.PORT ?? 8787);
const pglitePort = Number(process.env.PGLITE_PORT ?? 54329);
const proxyPort = Number(process.env.WS_PROXY_PORT ?? 8788);
const issuerPort = Number(process.env.ISSUER_PORT ?? 8789);

const log = (line: string) => console.log(`[covenant] ${line}`);
const cleanups: (() => Promise<void> | void)[] = [];
let stopping = false;

async function stop(code: number) {
	if (stopping) return;
	stopping = true;
	log("stopping…");
	for (const cleanup of cleanups.reverse()) {
		try {
			await cleanup();
		} catch (error) {
			console.error(error);
		}
	}
	process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

async function main() {
	mkdirSync(dataDir, { recursive: true });
	process.env.WRANGLER_SEND_METRICS = "false";

	const database = await prepareDatabase({
		serverUrl: process.env.DATABASE_URL,
		dataDir: join(dataDir, "pglite"),
		port: pglitePort,
		seed: "if-empty",
		log,
	});
	cleanups.push(() => database.dispose());
	log(
		database.kind === "pglite"
			? `Postgres: embedded PGlite (data in .data/pglite) at ${database.url}`
			: `Postgres: ${redact(database.url)} (from DATABASE_URL)`,
	);

	const proxy = await startWsProxy({ port: proxyPort, log });
	cleanups.push(() => proxy.close());
	log(`WebSocket proxy (Neon-compatible): ws://${proxy.wsProxy}?address=host:port`);

	const key = await loadOrCreateIssuerKey(join(dataDir, "dev-issuer-key.json"));
	const issuer = await serveIssuer([key.publicJwk], issuerPort);
	cleanups.push(() => issuer.close());
	log(
		`Dev OIDC issuer: ${issuer.issuer} (JWKS ${issuer.jwksUrl}); mint a token with: npm run token -- --sub alice --scope admin`,
	);

	// Ledger checkpoints are signed with a local Ed25519 key, kept so saved checkpoints verify across restarts.
	const checkpointKeys = await loadOrCreateCheckpointKeys(join(dataDir, "checkpoint-signing-keys.json"));

	const wrangler = startWrangler(database.url, proxy.wsProxy, issuer, checkpointKeys);
	cleanups.push(() => stopProcessGroup(wrangler));
	wrangler.on("exit", (code) => {
		if (!stopping) {
			log(`wrangler dev exited (${code}); stopping the stack`);
			void stop(code ?? 1);
		}
	});

	await waitForHealth();
}

function startWrangler(
	databaseUrl: string,
	wsProxy: string,
	issuer: { issuer: string; jwksUrl: string },
	checkpointKeys: string,
): ChildProcess {
	const args = [
		"dev",
		"--port",
		String(port),
		"--ip",
		"127.0.0.1",
		"--persist-to",
		join(dataDir, "wrangler"),
		"--var",
		`DATABASE_URL:${databaseUrl}`,
		"--var",
		`NEON_WS_PROXY:${wsProxy}`,
		"--var",
		`AUTH_ISSUER:${issuer.issuer}`,
		"--var",
		`AUTH_JWKS_URL:${issuer.jwksUrl}`,
		"--var",
		`CHECKPOINT_SIGNING_KEYS:${checkpointKeys}`,
		"--show-interactive-dev-session=false",
	];
	// Its own process group: wrangler's workerd children hold the port unless the whole group is stopped.
	const child = spawn(join(root, "node_modules/.bin/wrangler"), args, {
		cwd: root,
		stdio: ["ignore", "inherit", "inherit"],
		detached: true,
		env: {
			...process.env,
			WRANGLER_SEND_METRICS: "false",
			PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}`,
		},
	});
	log(`wrangler dev starting on http://localhost:${port}`);
	return child;
}

async function stopProcessGroup(child: ChildProcess) {
	if (child.pid === undefined || child.exitCode !== null) return;
	const exited = new Promise((resolve) => child.once("exit", resolve));
	try {
		process.kill(-child.pid, "SIGTERM");
	} catch {
		return;
	}
	const timeout = setTimeout(() => {
		try {
			if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
		} catch {}
	}, 5_000);
	await exited;
	clearTimeout(timeout);
}

async function waitForHealth() {
	const url = `http://127.0.0.1:${port}/v1/health`;
	for (let attempt = 0; attempt < 120 && !stopping; attempt++) {
		try {
			const response = await fetch(url);
			const body = (await response.json()) as { status: string; failing: string[] };
			if (response.ok) {
				log(
					`ready: http://localhost:${port}  (health ${body.status}; API docs http://localhost:${port}/docs)`,
				);
				return;
			}
			if (attempt % 10 === 9) log(`health: ${response.status} failing=${body.failing.join(",")}`);
		} catch {
			// not listening yet
		}
		await new Promise((r) => setTimeout(r, 1_000));
	}
	if (!stopping) log(`health did not turn ok within 2 minutes; check the output above (${url})`);
}

function redact(url: string) {
	return url.replace(/\/\/([^:@/]+):[^@/]+@/, "//$1:***@");
}

main().catch((error) => {
	console.error(error);
	void stop(1);
});
