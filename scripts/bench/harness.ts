/**
 * The shared benchmark harness: everything a `npm run bench:<name>` script needs to load the BUILT worker the
 * way production runs it, and to report what it measured.
 *
 * - `startBenchStack()`: builds the worker (`wrangler deploy --dry-run --outdir dist/bench-<name>`), starts a
 *   fresh migrated and seeded Postgres (a new database on BENCH_DATABASE_URL's server, dropped afterwards, else
 *   an embedded PGlite), the Neon-compatible WebSocket proxy and the local OIDC issuer, then runs the bundle in
 *   workerd through Miniflare's API with wrangler.toml's own bindings (KV, Durable Objects, queues, vars; read
 *   with wrangler's `unstable_getMiniflareWorkerOptions`), pointed at that database and issuer. Beside it, a
 *   bare worker answering a constant, on the same Miniflare and compatibility date: the ceiling of this
 *   machine, load generator included, that every scenario is compared with.
 * - `runLoad()`: one autocannon run (same generator and settings for every scenario), summarised.
 * - `printTable()` / `writeResults()`: the table on stdout, the JSON in bench/results/ (git-ignored).
 *
 * Never `wrangler dev`: its proxy costs ~27x the throughput on these machines (docs/DESIGN.md). Requests reach
 * both workers on a direct workerd socket (Miniflare's `unsafeDirectSockets`), not through Miniflare's own entry
 * worker: that dev-only hop (it adds `request.cf`, pretty errors, live reload) runs JS on the same thread for
 * every request and cut the bare worker to about a third (1.8k vs 5.7k req/s, same run). Production has no
 * such hop. `BENCH_ENTRY=miniflare` measures through it instead (how figures before 2026-11-30 were taken).
 *
 * Miniflare keeps the Durable Objects' SQLite files (and KV, queues) in a temporary directory. On this VM's disk
 * every commit's fsync stalls the runtime: a worker calling a Durable Object that inserts one row managed ~700
 * requests/s with the files on disk and ~1,300-1,500 on tmpfs (a bare RPC: ~1,600), same run. Production storage
 * is not this disk (Cloudflare confirms a write once its followers have it), so the harness puts that directory
 * on tmpfs (/dev/shm) when the machine has one; `BENCH_STATE_DIR=<dir>` chooses another (a disk, to see its cost).
 *
 * @example
 * const stack = await startBenchStack({ name: "read" });
 * try {
 *   const token = await stack.token("viewer");
 *   const result = await runLoad({ url: `${stack.url}/v1/nations/KE`, headers: { authorization: `Bearer ${token}` } });
 * } finally {
 *   await stack.close();
 * }
 */
import { spawn, spawnSync } from "node:child_process";
import {
	existsSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	rmSync,
	writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare, type V4MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { type PreparedDatabase, prepareDatabase } from "../lib/database.ts";
import { createIssuerKey, mintToken, type RunningIssuer, serveIssuer } from "../lib/dev-issuer.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;
const AUDIENCE = "https://api.covenant.example";

export interface BenchStackOptions {
	/** Short name of the benchmark: the build goes to dist/bench-<name>/. */
	name: string;
	/** Bindings to set on top of wrangler.toml's and the stack's (database, issuer). */
	bindings?: Record<string, string>;
	/** Load the seeds (195 nations, 6 sectors, ~600 projects). Default true. */
	seed?: boolean;
	/** Open workerd's inspector on this port (e.g. to take a CPU profile of the worker under load). */
	inspectorPort?: number;
	/**
	 * How requests reach the workers: "direct" (default) on workerd sockets of their own, or "miniflare" through
	 * Miniflare's dev entry worker. Defaults to BENCH_ENTRY, else "direct".
	 */
	entry?: "direct" | "miniflare";
	log?: (message: string) => void;
}

export interface BenchStack {
	/** Origin of the worker under test, e.g. http://127.0.0.1:40123 */
	url: string;
	/** Origin of the bare worker that answers a constant. */
	baselineUrl: string;
	/** How requests reach the workers (see BenchStackOptions.entry). */
	entry: "direct" | "miniflare";
	databaseUrl: string;
	databaseKind: PreparedDatabase["kind"];
	/** A bearer token from the stack's issuer (sub defaults to "bench"). */
	token(scope: string, options?: { sub?: string; expiresIn?: string }): Promise<string>;
	close(): Promise<void>;
}

/**
 * The WebSocket-to-Postgres proxy in a process of its own: in this process its event loop would wait behind the
 * load generator's, and every projection drain and consumer batch of the worker under test with it (a 500-row
 * drain took 0.4-1.3 s that way while 500 requests/s were being sent).
 */
async function startProxyProcess(): Promise<{ wsProxy: string; close(): Promise<void> }> {
	const child = spawn(
		process.execPath,
		[
			"--input-type=module",
			"-e",
			`import { startWsProxy } from ${JSON.stringify(join(ROOT, "scripts/lib/ws-proxy.ts"))};
			const proxy = await startWsProxy();
			console.log(JSON.stringify({ wsProxy: proxy.wsProxy }));`,
		],
		{ stdio: ["ignore", "pipe", "inherit"] },
	);
	const wsProxy = await new Promise<string>((resolve, reject) => {
		let buffered = "";
		child.stdout.on("data", (chunk: Buffer) => {
			buffered += chunk.toString();
			const line = buffered.split("\n")[0];
			if (buffered.includes("\n") && line) resolve((JSON.parse(line) as { wsProxy: string }).wsProxy);
		});
		child.once("exit", (code) => reject(new Error(`the WebSocket proxy exited (${code})`)));
	});
	return {
		wsProxy,
		close: async () => {
			child.kill();
		},
	};
}

/** Builds the worker with wrangler and returns the bundle's path. */
export function buildWorker(name: string, log: (message: string) => void = () => {}): string {
	// Inside the project (dist/ is git-ignored): workerd resolves module paths below the worker's root.
	const outdir = join(ROOT, `dist/bench-${name}`);
	log(`building the worker: wrangler deploy --dry-run --outdir ${outdir}`);
	const result = spawnSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir], {
		cwd: ROOT,
		stdio: ["ignore", "ignore", "inherit"],
	});
	if (result.status !== 0) throw new Error(`wrangler build failed (exit ${result.status})`);
	return join(outdir, "index.js");
}

export async function startBenchStack(options: BenchStackOptions): Promise<BenchStack> {
	const log =
		options.log ?? ((message: string) => process.stderr.write(`[bench:${options.name}] ${message}\n`));
	const cleanups: (() => Promise<unknown>)[] = [];
	const close = async () => {
		for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
	};
	try {
		const scriptPath = buildWorker(options.name, log);
		const database = await prepareDatabase({
			serverUrl: process.env.BENCH_DATABASE_URL,
			fresh: true,
			seed: options.seed ?? true,
			log,
		});
		cleanups.push(() => database.dispose());
		log(`postgres: ${database.kind}`);
		const proxy = await startProxyProcess();
		cleanups.push(() => proxy.close());
		const key = await createIssuerKey(`bench-${options.name}`);
		const issuer: RunningIssuer = await serveIssuer([key.publicJwk]);
		cleanups.push(() => issuer.close());

		const entry = options.entry ?? (process.env.BENCH_ENTRY === "miniflare" ? "miniflare" : "direct");
		const stateDir = mkdtempSync(
			join(
				process.env.BENCH_STATE_DIR ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir()),
				"covenant-bench-",
			),
		);
		cleanups.push(async () => rmSync(stateDir, { recursive: true, force: true }));
		// Miniflare creates its state directory under os.tmpdir(), which reads TMPDIR when called.
		const previousTmpdir = process.env.TMPDIR;
		process.env.TMPDIR = stateDir;
		cleanups.push(async () => {
			if (previousTmpdir === undefined) delete process.env.TMPDIR;
			else process.env.TMPDIR = previousTmpdir;
		});
		log(`Miniflare state (Durable Objects, KV, queues) under ${stateDir}`);
		// A socket of the worker's own (port 0: any free one), serving its default entrypoint.
		const sockets = entry === "direct" ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {};
		const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"));
		// The fields the harness reads, as wrangler fills them in from wrangler.toml.
		const fromToml = workerOptions as unknown as {
			bindings?: Record<string, unknown>;
			compatibilityDate?: string;
			compatibilityFlags?: string[];
		};
		// wrangler reads wrangler.toml into Miniflare 4-style options; Miniflare 5 converts them.
		const worker = new Miniflare(
			convertV4MiniflareOptions({
				...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
				workers: [
					{
						...workerOptions,
						name: "covenant-edge",
						modules: true,
						scriptPath,
						modulesRules: undefined,
						// The cron sweeps would add load the scenario did not ask for.
						cronTriggers: undefined,
						// The 401 scenarios measure refusing a credential, not the failed-credential limit's 429s
						// (the binding is still called for every failure).
						ratelimits: {
							FAILED_AUTH_LIMITER: { namespace_id: "1001", simple: { limit: 1_000_000_000, period: 60 } },
						},
						...sockets,
						bindings: {
							...fromToml.bindings,
							ENVIRONMENT: "development",
							BUILD_VERSION: `bench-${options.name}`,
							DATABASE_URL: database.url,
							NEON_WS_PROXY: proxy.wsProxy,
							AUTH_ISSUER: issuer.issuer,
							AUTH_AUDIENCE: AUDIENCE,
							AUTH_JWKS_URL: issuer.jwksUrl,
							// A benchmark measures the work, not the rate limiter's refusals (its cost per request stays).
							RATE_LIMIT_PER_MINUTE: "1000000000",
							RATE_LIMIT_BURST: "100000000",
							...options.bindings,
						},
					},
				],
			} as V4MiniflareOptions),
		);
		cleanups.push(() => worker.dispose());
		const baseline = new Miniflare(
			convertV4MiniflareOptions({
				workers: [
					{
						name: "baseline",
						modules: true,
						script: BASELINE_SCRIPT,
						compatibilityDate: fromToml.compatibilityDate,
						compatibilityFlags: fromToml.compatibilityFlags,
						...sockets,
					},
				],
			} as V4MiniflareOptions),
		);
		cleanups.push(() => baseline.dispose());
		await Promise.all([worker.ready, baseline.ready]);
		const url =
			entry === "direct"
				? (await worker.unsafeGetDirectURL("covenant-edge")).origin
				: (await worker.ready).origin;
		const baselineUrl =
			entry === "direct"
				? (await baseline.unsafeGetDirectURL("baseline")).origin
				: (await baseline.ready).origin;
		log(
			`worker at ${url}, bare worker at ${baselineUrl} (${entry === "direct" ? "direct workerd sockets" : "through Miniflare's entry worker"})`,
		);
		return {
			url,
			baselineUrl,
			entry,
			databaseUrl: database.url,
			databaseKind: database.kind,
			token: (scope, tokenOptions = {}) =>
				mintToken(key, {
					sub: tokenOptions.sub ?? "bench",
					scope,
					issuer: issuer.issuer,
					audience: AUDIENCE,
					expiresIn: tokenOptions.expiresIn ?? "2h",
				}),
			close,
		};
	} catch (error) {
		await close();
		throw error;
	}
}

/**
 * The bare worker: answers a constant. It can also replay a response the API gave (`PUT /replay/<name>` with
 * `{ headers, body }`, then `GET /replay/<name>`), so a benchmark can measure what the runtime costs to send that
 * exact response (its headers and body) with none of the API's work: the floor of a scenario, beside its ratio to
 * the constant. Until a replay is set, the constant is answered after one check of the method.
 */
const BASELINE_SCRIPT = `
const replays = new Map();
export default {
	async fetch(request) {
		if (replays.size === 0 && request.method === "GET") return new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
		const path = new URL(request.url).pathname;
		if (request.method === "PUT") {
			const { headers, body } = await request.json();
			replays.set(path, { headers, body: new TextEncoder().encode(body) });
			return new Response(null, { status: 204 });
		}
		const replay = replays.get(path);
		if (replay) return new Response(replay.body, { headers: { ...replay.headers } });
		return new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
	},
};`;

/**
 * Makes the bare worker replay `response` (status 200, its headers and body) at `<baselineUrl>/replay/<name>`;
 * returns that URL. Headers of the transport (length, date) are left to the runtime, as for the API.
 */
export async function replayOnBaseline(stack: BenchStack, name: string, response: Response): Promise<string> {
	const headers: Record<string, string> = {};
	response.headers.forEach((value, key) => {
		if (!["content-length", "date", "connection", "keep-alive", "transfer-encoding"].includes(key))
			headers[key] = value;
	});
	const url = `${stack.baselineUrl}/replay/${name}`;
	const put = await fetch(url, {
		method: "PUT",
		body: JSON.stringify({ headers, body: await response.text() }),
	});
	if (put.status !== 204) throw new Error(`replay ${name}: ${put.status}`);
	return url;
}

/** The part of autocannon's request options the harness passes through. */
export interface LoadRequest {
	method?: string;
	path?: string;
	headers?: Record<string, string>;
	body?: string;
	/** Called before each request: return the request to send (e.g. another path). */
	setupRequest?: (request: LoadRequest) => LoadRequest;
	/** Called with every response; makes autocannon keep each body, so use it only where needed. */
	onResponse?: (status: number, body: string, context: unknown, headers: Record<string, string>) => void;
}

interface AutocannonResult {
	duration: number;
	"2xx": number;
	non2xx: number;
	errors: number;
	timeouts: number;
	latency: { p50: number; p90: number; p99: number; average: number; max: number };
	requests: { average: number; total: number };
	statusCodeStats: Record<string, { count: number }>;
}
type Autocannon = (options: {
	url: string;
	connections: number;
	duration: number;
	pipelining?: number;
	headers?: Record<string, string>;
	method?: string;
	requests?: LoadRequest[];
}) => Promise<AutocannonResult>;
// autocannon ships no types; this is the part of its API the harness uses.
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

export interface LoadOptions {
	url: string;
	connections?: number;
	durationSeconds?: number;
	headers?: Record<string, string>;
	requests?: LoadRequest[];
	/** Statuses that count as success (default: 2xx). */
	expectStatus?: number[];
}

export interface LoadResult {
	requests_per_s: number;
	/**
	 * CPU time the workerd processes spent per answered request (user + system, from /proc; undefined off
	 * Linux). Unlike throughput it barely depends on what else the machine is doing.
	 */
	worker_cpu_us: number | undefined;
	/** CPU time this Node process (the load generator, proxy and issuer) spent per answered request. */
	client_cpu_us: number;
	p50_ms: number;
	p90_ms: number;
	p99_ms: number;
	max_ms: number;
	ok: number;
	failed: number;
	statuses: Record<string, number>;
}

/**
 * One autocannon run with a fixed number of connections (each sends its next request when the previous
 * answered: a closed loop, no pipelining), summarised. Requests per second count successful answers only.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
	const duration = options.durationSeconds ?? 10;
	const workerdBefore = workerdCpuMs();
	const clientBefore = process.cpuUsage();
	const result = await autocannon({
		url: options.url,
		connections: options.connections ?? 32,
		duration,
		pipelining: 1,
		headers: options.headers,
		requests: options.requests,
	});
	const statuses = Object.fromEntries(
		Object.entries(result.statusCodeStats ?? {}).map(([s, v]) => [s, v.count]),
	);
	const expected = options.expectStatus;
	const ok = expected
		? Object.entries(statuses)
				.filter(([status]) => expected.includes(Number(status)))
				.reduce((sum, [, count]) => sum + count, 0)
		: result["2xx"];
	const total = Object.values(statuses).reduce((sum, count) => sum + count, 0);
	const workerdAfter = workerdCpuMs();
	const client = process.cpuUsage(clientBefore);
	const answered = Math.max(1, total);
	return {
		requests_per_s: Math.round(ok / (result.duration || duration)),
		worker_cpu_us:
			workerdBefore === undefined || workerdAfter === undefined
				? undefined
				: Math.round(((workerdAfter - workerdBefore) * 1000) / answered),
		client_cpu_us: Math.round((client.user + client.system) / answered),
		p50_ms: result.latency.p50,
		p90_ms: result.latency.p90,
		p99_ms: result.latency.p99,
		max_ms: result.latency.max,
		ok,
		failed: total - ok + result.errors + result.timeouts,
		statuses,
	};
}

/**
 * Total CPU time (ms) of the workerd processes this process started (Miniflare's runtimes), from /proc.
 * Only the instance under load is busy during a run, so the delta over a run is that instance's cost.
 */
export function workerdCpuMs(): number | undefined {
	if (process.platform !== "linux") return undefined;
	const ticksPerSecond = 100; // USER_HZ: 100 on every Linux this runs on
	let total = 0;
	for (const pid of descendants(process.pid)) {
		try {
			const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
			const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
			const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
			if (!command.startsWith("workerd")) continue;
			// utime and stime are fields 14 and 15 of /proc/<pid>/stat, i.e. 11 and 12 after the command.
			total += ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
		} catch {
			// The process exited between listing and reading.
		}
	}
	return total;
}

function descendants(root: number): number[] {
	const parents = new Map<number, number[]>();
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
			const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
			const list = parents.get(parent) ?? [];
			list.push(Number(entry));
			parents.set(parent, list);
		} catch {
			// Gone already.
		}
	}
	const out: number[] = [];
	const queue = [root];
	while (queue.length > 0) {
		for (const child of parents.get(queue.shift() as number) ?? []) {
			out.push(child);
			queue.push(child);
		}
	}
	return out;
}

/** A plain-text table: one line per row, columns padded, numbers right-aligned. */
export function printTable(rows: Record<string, string | number>[], columns?: string[]): string {
	const names = columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
	const cell = (value: string | number | undefined) => (value === undefined ? "" : String(value));
	const widths = names.map((name) => Math.max(name.length, ...rows.map((row) => cell(row[name]).length)));
	const line = (values: string[], numeric: boolean[]) =>
		values.map((v, i) => (numeric[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join("  ");
	const numeric = names.map((name) =>
		rows.every((row) => typeof row[name] === "number" || row[name] === undefined),
	);
	const text = [
		line(names, numeric),
		line(
			widths.map((w) => "-".repeat(w)),
			numeric,
		),
		...rows.map((row) =>
			line(
				names.map((name) => cell(row[name])),
				numeric,
			),
		),
	].join("\n");
	process.stdout.write(`${text}\n`);
	return text;
}

/** Writes the results as JSON to bench/results/<name>-<timestamp>.json and returns the path. */
export function writeResults(name: string, payload: unknown): string {
	const dir = join(ROOT, "bench/results");
	mkdirSync(dir, { recursive: true });
	const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
	writeFileSync(file, `${JSON.stringify(payload, null, 2)}\n`);
	return file;
}

/** What the numbers were measured on, to print and store beside them. */
export function machine(): { cpus: string; memory_gb: number; node: string } {
	const list = cpus();
	return {
		cpus: `${list.length} x ${list[0]?.model ?? "unknown"}`,
		memory_gb: Math.round(totalmem() / 2 ** 30),
		node: process.version,
	};
}
