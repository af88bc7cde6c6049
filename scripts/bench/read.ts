/**
 * `npm run bench:read`: the edge read API under load, through the BUILT worker in workerd (Miniflare's API),
 * every request a real API call (bearer JWT verified against the issuer's JWKS, revocation check, rate limit,
 * permission, validation, cache). One run measures, with the same autocannon settings:
 *
 * (a) a bare worker answering a constant: the ceiling of this machine and load generator;
 * (b) cached `GET /v1/nations/KE`;
 * (c) cached `GET /v1/projects?sector=energy&limit=50` (a 50-project page, ~30 KB);
 * (a') the bare worker replaying (b)'s and (c)'s exact responses (headers and body) to the same requests (same
 *     Authorization header): what the runtime costs to receive each request and send each response with none
 *     of the API's work, so the API's own overhead is the gap to its replay;
 * and, to show what authentication costs per request: a 401 without a token (no signature check) and a 401
 * with a bad signature (the full ES256 verification, then the refusal);
 * (z) the cache hit ratio under a Zipf(1.1) mix over every nation and every project: first from cold item
 *     caches (every item's first touch is a miss), then in the steady state that follows (the target).
 *
 * Prints a table with each throughput as a ratio to (a), checks the targets, writes JSON to bench/results/.
 * Postgres: BENCH_DATABASE_URL's server (a fresh database), else an embedded PGlite.
 *
 * Flags: --duration <s> per scenario (default 10), --connections <n> (default 32), --zipf-duration <s> (default 20).
 */
import { parseArgs } from "node:util";
import {
	type BenchStack,
	type LoadResult,
	machine,
	printTable,
	replayOnBaseline,
	runLoad,
	startBenchStack,
	writeResults,
} from "./harness.ts";

const { values: flags } = parseArgs({
	options: {
		duration: { type: "string", default: "10" },
		connections: { type: "string", default: "32" },
		"zipf-duration": { type: "string", default: "20" },
	},
});
const DURATION = Number(flags.duration);
const CONNECTIONS = Number(flags.connections);
const ZIPF_DURATION = Number(flags["zipf-duration"]);
const ZIPF_EXPONENT = 1.1;

const TARGETS = { nation_ratio: 0.7, projects_ratio: 0.5, hit_ratio: 0.99, nation_p99_ms: 10 };

function log(message: string) {
	process.stderr.write(`[bench:read] ${message}\n`);
}

async function getJson<T>(
	url: string,
	headers: Record<string, string>,
): Promise<{ body: T; cache: string | null }> {
	const response = await fetch(url, { headers });
	if (response.status !== 200) throw new Error(`${url}: ${response.status} ${await response.text()}`);
	return { body: (await response.json()) as T, cache: response.headers.get("x-cache") };
}

/** Every row of a list route, following next_cursor. */
async function everyRow<T>(stack: BenchStack, path: string, headers: Record<string, string>): Promise<T[]> {
	const rows: T[] = [];
	let cursor: string | null = null;
	do {
		const separator = path.includes("?") ? "&" : "?";
		const page: { body: { data: T[]; next_cursor: string | null } } = await getJson(
			`${stack.url}${path}${cursor ? `${separator}cursor=${cursor}` : ""}`,
			headers,
		);
		rows.push(...page.body.data);
		cursor = page.body.next_cursor;
	} while (cursor);
	return rows;
}

/** Reads the URL until it is served from the cache (the first read fills it). */
async function warm(url: string, headers: Record<string, string>): Promise<void> {
	for (let attempt = 0; attempt < 10; attempt++) {
		if ((await getJson(url, headers)).cache === "HIT") return;
	}
	throw new Error(`${url} never became a cache HIT`);
}

/** Deterministic shuffle (mulberry32), so a run's Zipf ranks do not depend on table order. */
function shuffled<T>(items: T[], seed: number): T[] {
	let state = seed >>> 0;
	const random = () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	const out = [...items];
	for (let i = out.length - 1; i > 0; i--) {
		const j = Math.floor(random() * (i + 1));
		[out[i], out[j]] = [out[j] as T, out[i] as T];
	}
	return out;
}

/** A sampler of ranks 0..n-1 with P(k) proportional to (k+1)^-s. */
function zipfSampler(n: number, s: number): () => number {
	const cumulative: number[] = [];
	let total = 0;
	for (let k = 1; k <= n; k++) {
		total += k ** -s;
		cumulative.push(total);
	}
	return () => {
		const target = Math.random() * total;
		let lo = 0;
		let hi = n - 1;
		while (lo < hi) {
			const mid = (lo + hi) >> 1;
			if ((cumulative[mid] ?? 0) < target) lo = mid + 1;
			else hi = mid;
		}
		return lo;
	};
}

interface Row {
	scenario: string;
	"req/s": number;
	"x (a)": string;
	"p50 ms": number;
	"p99 ms": number;
	"worker CPU µs/req": number | string;
	"client CPU µs/req": number;
	ok: number;
	failed: number;
}

function row(scenario: string, result: LoadResult, baseline: LoadResult | undefined): Row {
	return {
		scenario,
		"req/s": result.requests_per_s,
		"x (a)": baseline ? (result.requests_per_s / baseline.requests_per_s).toFixed(2) : "1.00",
		"p50 ms": result.p50_ms,
		"p99 ms": result.p99_ms,
		"worker CPU µs/req": result.worker_cpu_us ?? "n/a",
		"client CPU µs/req": result.client_cpu_us,
		ok: result.ok,
		failed: result.failed,
	};
}

async function main() {
	const stack = await startBenchStack({ name: "read", log });
	try {
		const auth = { authorization: `Bearer ${await stack.token("viewer")}` };
		const nationPath = "/v1/nations/KE";
		const projectsPath = "/v1/projects?sector=energy&limit=50";
		// Warm: JWKS fetch, isolate start, the two cached routes; collect every nation and project to mix over.
		await warm(`${stack.url}${nationPath}`, auth);
		await warm(`${stack.url}${projectsPath}`, auth);
		const nations = await everyRow<{ iso2: string }>(stack, "/v1/nations?limit=200", auth);
		const projects = await everyRow<{ id: string }>(stack, "/v1/projects?limit=200", auth);
		log(`${nations.length} nations, ${projects.length} projects`);

		const load = { connections: CONNECTIONS, durationSeconds: DURATION };
		log(`(a) bare worker, ${CONNECTIONS} connections, ${DURATION} s`);
		const baseline = await runLoad({ url: stack.baselineUrl, ...load });
		// The runtime's cost of sending (b)'s and (c)'s exact responses, with none of the API's work: the bare worker
		// replays them (same headers and body). The API's own overhead is the gap between each and its replay.
		const nationReplay = await replayOnBaseline(
			stack,
			"nation",
			await fetch(`${stack.url}${nationPath}`, { headers: auth }),
		);
		const pageReplay = await replayOnBaseline(
			stack,
			"page",
			await fetch(`${stack.url}${projectsPath}`, { headers: auth }),
		);
		log("(a') bare worker replaying the responses of (b) and (c)");
		// Sent with the same Authorization header as (b) and (c): the request's size is part of the runtime's cost.
		const nationFloor = await runLoad({ url: nationReplay, headers: auth, ...load });
		const pageFloor = await runLoad({ url: pageReplay, headers: auth, ...load });
		log(`(b) cached GET ${nationPath}`);
		const nation = await runLoad({ url: `${stack.url}${nationPath}`, headers: auth, ...load });
		log(`(c) cached GET ${projectsPath}`);
		const page = await runLoad({ url: `${stack.url}${projectsPath}`, headers: auth, ...load });
		log("401 without a token");
		const anonymous = await runLoad({ url: `${stack.url}${nationPath}`, expectStatus: [401], ...load });
		log("401 with a bad signature");
		const token = auth.authorization.slice("Bearer ".length);
		const forged = `${token.slice(0, -6)}${token.slice(-6) === "AAAAAA" ? "BBBBBB" : "AAAAAA"}`;
		const badSignature = await runLoad({
			url: `${stack.url}${nationPath}`,
			headers: { authorization: `Bearer ${forged}` },
			expectStatus: [401],
			...load,
		});

		// Zipf over every nation and every project. Two phases with the same mix: "cold" starts with empty item
		// caches (only KE was read as an item), so each item's first touch is a miss; "steady" follows at once
		// and measures the ratio a running edge sees. The target applies to the steady phase.
		const paths = shuffled(
			[...nations.map((n) => `/v1/nations/${n.iso2}`), ...projects.map((p) => `/v1/projects/${p.id}`)],
			20261130,
		);
		const sample = zipfSampler(paths.length, ZIPF_EXPONENT);
		const zipfPhase = async (phase: string) => {
			const counts: Record<string, number> = {};
			const touched = new Set<string>();
			log(`(z) Zipf(${ZIPF_EXPONENT}) over ${paths.length} items, ${phase}, ${ZIPF_DURATION} s`);
			const result = await runLoad({
				url: stack.url,
				connections: CONNECTIONS,
				durationSeconds: ZIPF_DURATION,
				requests: [
					{
						method: "GET",
						headers: auth,
						setupRequest: (request) => {
							const path = paths[sample()] ?? nationPath;
							touched.add(path);
							return { ...request, path };
						},
						onResponse: (status, _body, _context, headers) => {
							const key = status === 200 ? (headers["x-cache"] ?? "no x-cache") : `status ${status}`;
							counts[key] = (counts[key] ?? 0) + 1;
						},
					},
				],
			});
			const served = Object.values(counts).reduce((sum, n) => sum + n, 0);
			const hitRatio = served ? ((counts.HIT ?? 0) + (counts.STALE ?? 0)) / served : 0;
			return { result, counts, served, touched: touched.size, hitRatio };
		};
		const cold = await zipfPhase("cold item caches");
		const steady = await zipfPhase("steady state");
		const hitRatio = steady.hitRatio;

		const rows = [
			row("(a) bare worker, constant", baseline, undefined),
			row("(a') bare worker replaying (b)'s response", nationFloor, baseline),
			row(`(b) cached GET ${nationPath}`, nation, baseline),
			row("(a') bare worker replaying (c)'s response", pageFloor, baseline),
			row(`(c) cached GET ${projectsPath}`, page, baseline),
			row("401, no token (no signature check)", anonymous, baseline),
			row("401, bad signature (ES256 verify)", badSignature, baseline),
			row(`(z) Zipf(${ZIPF_EXPONENT}) mix, cold item caches`, cold.result, baseline),
			row(`(z) Zipf(${ZIPF_EXPONENT}) mix, steady state`, steady.result, baseline),
		];
		const meta = {
			when: new Date().toISOString(),
			connections: CONNECTIONS,
			duration_s: DURATION,
			zipf_duration_s: ZIPF_DURATION,
			postgres: stack.databaseKind,
			...machine(),
		};
		process.stdout.write(
			`\nbench:read, ${CONNECTIONS} connections, ${DURATION} s per scenario, ${meta.cpus}, Postgres: ${meta.postgres}\n\n`,
		);
		printTable(rows as unknown as Record<string, string | number>[]);
		for (const [phase, z] of [
			["cold", cold],
			["steady", steady],
		] as const) {
			process.stdout.write(
				`\n(z) ${phase}: ${JSON.stringify(z.counts)}, hit ratio ${(z.hitRatio * 100).toFixed(2)} % of ${z.served} responses, ${z.touched} distinct items requested`,
			);
		}
		process.stdout.write("\n");
		const targets = [
			{
				target: "(b) >= 0.7 x (a)",
				measured: (nation.requests_per_s / baseline.requests_per_s).toFixed(2),
				met: nation.requests_per_s >= TARGETS.nation_ratio * baseline.requests_per_s,
			},
			{
				target: "(c) >= 0.5 x (a)",
				measured: (page.requests_per_s / baseline.requests_per_s).toFixed(2),
				met: page.requests_per_s >= TARGETS.projects_ratio * baseline.requests_per_s,
			},
			{
				target: "hit ratio >= 99 % (steady state)",
				measured: `${(hitRatio * 100).toFixed(2)} %`,
				met: hitRatio >= TARGETS.hit_ratio,
			},
			{
				target: `p99 of (b) <= 10 ms at ${CONNECTIONS} connections`,
				measured: `${nation.p99_ms} ms`,
				met: nation.p99_ms <= TARGETS.nation_p99_ms,
			},
		];
		process.stdout.write("\n");
		printTable(targets.map((t) => ({ ...t, met: t.met ? "yes" : "NO" })));
		const file = writeResults("read", {
			meta,
			scenarios: {
				baseline,
				nation_replay: nationFloor,
				projects_page_replay: pageFloor,
				nation,
				projects_page: page,
				unauthenticated: anonymous,
				bad_signature: badSignature,
				zipf_cold: cold.result,
				zipf_steady: steady.result,
			},
			zipf: {
				exponent: ZIPF_EXPONENT,
				items: paths.length,
				cold: { counts: cold.counts, touched: cold.touched, hit_ratio: cold.hitRatio },
				steady: { counts: steady.counts, touched: steady.touched, hit_ratio: steady.hitRatio },
			},
			table: rows,
			targets,
		});
		log(`results written to ${file}`);
	} finally {
		await stack.close();
	}
}

await main();
