/**
 * `npm run bench:ledger`: throughput and latency of the nation ledgers through the BUILT worker (wrangler's dry-run
 * bundle) under Miniflare, loaded with autocannon, beside a bare worker measured in the same run.
 *
 * Scenarios (each `--duration` seconds, `--connections` concurrent clients):
 * - baseline: a worker that answers "ok" (the ceiling of this machine + Miniflare + autocannon);
 * - single, one nation: POST /v1/nations/KE/ledger/transfers, one transfer per request;
 * - batch of 100, one nation: the same with {"transfers": [100 transfers]};
 * - single, 195 nations: one transfer per request into a random nation;
 * - projection lag: 500 transfers/s into one nation, then the lag of every entry from the ledger to Postgres
 *   (projected_at - recorded_at in ledger_entries).
 * Every request is a real API call: bearer JWT verified against the local issuer's JWKS, rate limiting (set high),
 * a fresh Idempotency-Key. Prints a table and writes JSON to bench/results/.
 *
 * Postgres: BENCH_DATABASE_URL (a fresh database is created on that server and dropped afterwards), else an
 * embedded PGlite. The harness is this file's own (scripts/bench/harness.ts did not exist when it was written).
 *
 * Flags: --duration <s> (default 10), --connections <n> (default 32), --only <scenario,...>.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { convertV4MiniflareOptions, Miniflare, type V4MiniflareOptions } from "miniflare";
import pg from "pg";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { LEDGER_NATIONS } from "../../workers/domain/ledger/nations.ts";
import { prepareDatabase } from "../lib/database.ts";
import { createIssuerKey, mintToken, serveIssuer } from "../lib/dev-issuer.ts";
import { startWsProxy } from "../lib/ws-proxy.ts";

interface AutocannonRequest {
	method?: string;
	path?: string;
	headers?: Record<string, string>;
	body?: string;
	setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
}
interface AutocannonResult {
	duration: number;
	"2xx": number;
	non2xx: number;
	errors: number;
	timeouts: number;
	latency: { p50: number; p99: number; average: number };
	requests: { average: number; total: number };
}
type Autocannon = (options: {
	url: string;
	connections: number;
	duration: number;
	overallRate?: number;
	pipelining?: number;
	requests?: AutocannonRequest[];
	method?: string;
	headers?: Record<string, string>;
}) => Promise<AutocannonResult>;
// autocannon ships no types; this is the part of its API the bench uses.
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const root = new URL("../..", import.meta.url).pathname;
const { values: flags } = parseArgs({
	options: {
		duration: { type: "string", default: "10" },
		connections: { type: "string", default: "32" },
		only: { type: "string" },
	},
});
const DURATION = Number(flags.duration);
const CONNECTIONS = Number(flags.connections);
const ONLY = flags.only ? new Set(flags.only.split(",")) : undefined;
const AUDIENCE = "https://api.covenant.example";
const LAG_RATE = 500;

interface Row {
	scenario: string;
	requests_per_s: number;
	transfers_per_s: number;
	p50_ms: number;
	p99_ms: number;
	ok: number;
	failed: number;
}

function log(message: string) {
	process.stderr.write(`[bench:ledger] ${message}\n`);
}

function build(): string {
	// Inside the project (dist/ is git-ignored): workerd resolves module paths below the worker's root.
	const outdir = join(root, "dist/bench-ledger");
	log(`building the worker (wrangler deploy --dry-run --outdir ${outdir})`);
	const result = spawnSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir], {
		cwd: root,
		stdio: ["ignore", "ignore", "inherit"],
	});
	if (result.status !== 0) throw new Error("wrangler build failed");
	return join(outdir, "index.js");
}

const transfer = (amount: number) => ({
	kind: "adjustment",
	debit_account: "treasury",
	credit_account: "national_funding",
	amount,
});

function rowOf(scenario: string, result: AutocannonResult, transfersPerRequest: number): Row {
	const seconds = result.duration || DURATION;
	return {
		scenario,
		requests_per_s: Math.round(result["2xx"] / seconds),
		transfers_per_s: Math.round((result["2xx"] * transfersPerRequest) / seconds),
		p50_ms: result.latency.p50,
		p99_ms: result.latency.p99,
		ok: result["2xx"],
		failed: result.non2xx + result.errors + result.timeouts,
	};
}

async function main() {
	const scriptPath = build();
	const database = await prepareDatabase({
		serverUrl: process.env.BENCH_DATABASE_URL,
		fresh: true,
		seed: true,
		log,
	});
	log(`postgres: ${database.kind}`);
	const proxy = await startWsProxy();
	const key = await createIssuerKey("bench");
	const issuer = await serveIssuer([key.publicJwk]);
	const token = await mintToken(key, {
		sub: "bench",
		scope: "admin",
		issuer: issuer.issuer,
		audience: AUDIENCE,
		expiresIn: "2h",
	});

	// Typed loosely: wrangler's declaration of these options names its own bundled copy of Miniflare's types.
	const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, "wrangler.toml")) as unknown as {
		workerOptions: Record<string, unknown> & {
			bindings?: Record<string, unknown>;
			compatibilityDate: string;
		};
	};
	// wrangler produces Miniflare 4-style options from wrangler.toml; Miniflare 5 converts them.
	const worker = new Miniflare(
		convertV4MiniflareOptions({
			workers: [
				{
					...workerOptions,
					name: "covenant-edge",
					modules: true,
					scriptPath,
					modulesRules: undefined,
					cronTriggers: undefined,
					bindings: {
						...workerOptions.bindings,
						ENVIRONMENT: "development",
						BUILD_VERSION: "bench",
						DATABASE_URL: database.url,
						NEON_WS_PROXY: proxy.wsProxy,
						AUTH_ISSUER: issuer.issuer,
						AUTH_JWKS_URL: issuer.jwksUrl,
						// The bench measures the ledger, not the rate limiter's refusals.
						RATE_LIMIT_PER_MINUTE: "1000000000",
						RATE_LIMIT_BURST: "100000000",
					},
				},
			],
		} as V4MiniflareOptions),
	);
	const baseline = new Miniflare(
		convertV4MiniflareOptions({
			workers: [
				{
					name: "baseline",
					modules: true,
					script: 'export default { fetch() { return new Response("ok"); } };',
					compatibilityDate: workerOptions.compatibilityDate,
				},
			],
		} as V4MiniflareOptions),
	);
	const url = (await worker.ready).toString().replace(/\/$/, "");
	const baselineUrl = (await baseline.ready).toString().replace(/\/$/, "");
	const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
	const db = new pg.Client(database.url);
	await db.connect();

	const rows: Row[] = [];
	let lag: Record<string, number> | undefined;
	const wants = (name: string) => !ONLY || ONLY.has(name);
	try {
		// Warm up: JWKS fetch, isolate start, the ledger objects' schema.
		for (const nation of ["KE", "NG", "BR"]) {
			const response = await fetch(`${url}/v1/nations/${nation}/ledger/transfers`, {
				method: "POST",
				headers: { ...auth, "idempotency-key": crypto.randomUUID() },
				body: JSON.stringify(transfer(1)),
			});
			if (response.status !== 201)
				throw new Error(`warm-up failed: ${response.status} ${await response.text()}`);
		}

		if (wants("baseline")) {
			log("baseline: bare worker");
			const result = await autocannon({ url: baselineUrl, connections: CONNECTIONS, duration: DURATION });
			rows.push(rowOf("bare worker (baseline)", result, 0));
		}

		const keyed = (path: () => string, body: string) => ({
			method: "POST",
			setupRequest: (request: AutocannonRequest) => ({
				...request,
				method: "POST",
				path: path(),
				headers: { ...auth, "idempotency-key": crypto.randomUUID() },
				body,
			}),
		});

		if (wants("single")) {
			log("single transfers into one nation (KE)");
			const result = await autocannon({
				url,
				connections: CONNECTIONS,
				duration: DURATION,
				requests: [keyed(() => "/v1/nations/KE/ledger/transfers", JSON.stringify(transfer(100)))],
			});
			rows.push(rowOf("single transfers, one nation", result, 1));
		}

		if (wants("batch")) {
			log("batches of 100 into one nation (NG)");
			const batch = JSON.stringify({ transfers: Array.from({ length: 100 }, (_, i) => transfer(i + 1)) });
			const result = await autocannon({
				url,
				connections: CONNECTIONS,
				duration: DURATION,
				requests: [keyed(() => "/v1/nations/NG/ledger/transfers", batch)],
			});
			rows.push(rowOf("batches of 100, one nation", result, 100));
		}

		if (wants("spread")) {
			log("single transfers spread over all 195 nations");
			const codes = LEDGER_NATIONS.map((n) => n.iso2);
			let next = 0;
			const result = await autocannon({
				url,
				connections: CONNECTIONS,
				duration: DURATION,
				requests: [
					keyed(
						() => {
							next = (next + 1) % codes.length;
							return `/v1/nations/${codes[next]}/ledger/transfers`;
						},
						JSON.stringify(transfer(100)),
					),
				],
			});
			rows.push(rowOf("single transfers, 195 nations", result, 1));
		}

		if (wants("lag")) {
			log(`projection lag at ${LAG_RATE} transfers/s into one nation (BR)`);
			const started = new Date();
			const result = await autocannon({
				url,
				connections: Math.min(CONNECTIONS, 16),
				duration: DURATION,
				overallRate: LAG_RATE,
				requests: [keyed(() => "/v1/nations/BR/ledger/transfers", JSON.stringify(transfer(100)))],
			});
			rows.push(rowOf(`single transfers at ${LAG_RATE}/s, one nation`, result, 1));
			const deadline = Date.now() + 60_000;
			for (;;) {
				const ledger = (await (await fetch(`${url}/v1/nations/BR/ledger`, { headers: auth })).json()) as {
					projection: { lag_entries: number };
				};
				if (ledger.projection.lag_entries === 0) break;
				if (Date.now() > deadline) throw new Error("the BR projection did not catch up within 60 s");
				await new Promise((r) => setTimeout(r, 200));
			}
			const stats = await db.query<{ n: number; p50: number; p99: number; max: number }>(
				`select count(*)::int as n,
					percentile_cont(0.5) within group (order by ms) as p50,
					percentile_cont(0.99) within group (order by ms) as p99,
					max(ms) as max
				from (select extract(epoch from projected_at - recorded_at) * 1000 as ms
					from ledger_entries where nation_iso2 = 'BR' and recorded_at >= $1) lags`,
				[started],
			);
			const row = stats.rows[0];
			lag = {
				entries: row?.n ?? 0,
				p50_ms: Math.round(row?.p50 ?? 0),
				p99_ms: Math.round(row?.p99 ?? 0),
				max_ms: Math.round(row?.max ?? 0),
			};
		}

		// The books must balance after all that.
		for (const nation of ["KE", "NG", "BR"]) {
			const ledger = (await (
				await fetch(`${url}/v1/nations/${nation}/ledger`, { headers: auth })
			).json()) as {
				totals: { debits_posted: number; credits_posted: number };
				head: { sequence: number };
			};
			if (ledger.totals.debits_posted !== ledger.totals.credits_posted) {
				throw new Error(`${nation}'s debits and credits differ after the bench`);
			}
			log(`${nation}: ${ledger.head.sequence} entries, debits = credits`);
		}
	} finally {
		await db.end();
		await worker.dispose();
		await baseline.dispose();
		await issuer.close();
		await proxy.close();
		await database.dispose();
	}

	const cpus = (await import("node:os")).cpus();
	const meta = {
		when: new Date().toISOString(),
		duration_s: DURATION,
		connections: CONNECTIONS,
		postgres: database.kind,
		cpus: `${cpus.length} × ${cpus[0]?.model ?? "unknown"}`,
	};
	console.log(
		`\nLedger benchmark (${meta.cpus}; ${DURATION} s per scenario, ${CONNECTIONS} connections, Postgres: ${database.kind})\n`,
	);
	console.log("| scenario | requests/s | transfers/s | p50 ms | p99 ms | ok | failed |");
	console.log("|---|---:|---:|---:|---:|---:|---:|");
	for (const r of rows) {
		console.log(
			`| ${r.scenario} | ${r.requests_per_s} | ${r.transfers_per_s || "-"} | ${r.p50_ms} | ${r.p99_ms} | ${r.ok} | ${r.failed} |`,
		);
	}
	if (lag) {
		console.log(
			`\nProjection lag at ${LAG_RATE} transfers/s (${lag.entries} entries, ledger -> Postgres): p50 ${lag.p50_ms} ms, p99 ${lag.p99_ms} ms, max ${lag.max_ms} ms`,
		);
	}
	const resultsDir = join(root, "bench/results");
	mkdirSync(resultsDir, { recursive: true });
	const file = join(resultsDir, `ledger-${meta.when.replace(/[:.]/g, "-")}.json`);
	writeFileSync(file, `${JSON.stringify({ ...meta, rows, projection_lag: lag }, null, 2)}\n`);
	console.log(`\nwritten to ${file}`);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
