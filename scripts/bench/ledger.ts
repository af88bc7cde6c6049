/**
 * `npm run bench:ledger`: throughput and latency of the nation ledgers through the BUILT worker, on the shared
 * harness (scripts/bench/harness.ts: wrangler's dry-run bundle under Miniflare, a fresh seeded Postgres, the local
 * issuer, autocannon), beside the bare worker measured in the same run.
 *
 * Scenarios (each `--duration` seconds, `--connections` closed-loop clients):
 * - baseline: the bare worker (the ceiling of this machine, load generator included);
 * - single: POST /v1/nations/KE/ledger/transfers, one transfer per request;
 * - batch: the same with {"transfers": [100 transfers]} into NG;
 * - spread: one transfer per request into each of the 195 nations in turn;
 * - lag: 500 transfers/s (paced, open loop) into BR, then the lag of every entry from the ledger to Postgres
 *   (projected_at - recorded_at in ledger_entries): p50 / p99 / max.
 * Every request is a real API call: bearer JWT verified against the issuer's JWKS, rate limiting (limits set
 * high), a fresh Idempotency-Key. After the load the books are checked: debits equal credits in every ledger used.
 *
 * Flags: --duration <s> (default 10), --connections <n> (default 32), --only <scenario,...>.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { LEDGER_NATIONS } from "../../workers/domain/ledger/nations.ts";
import {
	type LoadRequest,
	type LoadResult,
	machine,
	printTable,
	runLoad,
	startBenchStack,
	writeResults,
} from "./harness.ts";

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
const wants = (scenario: string) => !ONLY || ONLY.has(scenario);
const LAG_RATE = 500;

const fund = (amount: number) => ({
	kind: "adjustment",
	debit_account: "treasury",
	credit_account: "national_funding",
	amount,
});

interface Row extends Record<string, string | number> {
	scenario: string;
	"requests/s": number;
	"transfers/s": number | string;
	"p50 ms": number;
	"p99 ms": number;
	ok: number;
	failed: number;
}

function row(scenario: string, result: LoadResult, transfersPerRequest: number): Row {
	return {
		scenario,
		"requests/s": result.requests_per_s,
		"transfers/s": transfersPerRequest ? result.requests_per_s * transfersPerRequest : "-",
		"p50 ms": result.p50_ms,
		"p99 ms": result.p99_ms,
		ok: result.ok,
		failed: result.failed,
	};
}

/** Sends `rate` requests per second for `seconds`, whatever the answers' latency (an open loop). */
async function paced(rate: number, seconds: number, send: () => Promise<Response>) {
	const latencies: number[] = [];
	let failed = 0;
	const inflight: Promise<void>[] = [];
	const started = performance.now();
	const total = rate * seconds;
	for (let sent = 0; sent < total; sent++) {
		const due = started + (sent * 1000) / rate;
		const wait = due - performance.now();
		if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
		const begin = performance.now();
		inflight.push(
			send().then(
				async (response) => {
					await response.arrayBuffer();
					if (response.status === 201) latencies.push(performance.now() - begin);
					else failed += 1;
				},
				() => {
					failed += 1;
				},
			),
		);
	}
	await Promise.all(inflight);
	const elapsed = (performance.now() - started) / 1000;
	latencies.sort((a, b) => a - b);
	const at = (q: number) =>
		Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
	return {
		requests_per_s: Math.round(latencies.length / elapsed),
		p50_ms: at(0.5),
		p99_ms: at(0.99),
		ok: latencies.length,
		failed,
	};
}

async function main() {
	const stack = await startBenchStack({ name: "ledger" });
	const token = await stack.token("admin");
	const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
	const db = new pg.Client(stack.databaseUrl);
	await db.connect();
	const rows: Row[] = [];
	let lag: { entries: number; p50_ms: number; p99_ms: number; max_ms: number } | undefined;
	const post = (nation: string, body: string) =>
		fetch(`${stack.url}/v1/nations/${nation}/ledger/transfers`, {
			method: "POST",
			headers: { ...auth, "idempotency-key": crypto.randomUUID() },
			body,
		});
	try {
		// Warm up: JWKS fetch, isolate start, the ledger objects' schema.
		for (const nation of ["KE", "NG", "BR"]) {
			const response = await post(nation, JSON.stringify(fund(1)));
			if (response.status !== 201)
				throw new Error(`warm-up failed: ${response.status} ${await response.text()}`);
		}
		const keyed = (path: () => string, body: string): LoadRequest => ({
			method: "POST",
			setupRequest: (request) => ({
				...request,
				method: "POST",
				path: path(),
				headers: { ...auth, "idempotency-key": crypto.randomUUID() },
				body,
			}),
		});
		/**
		 * Waits until the previous scenario's asynchronous work is done: its ledgers projected to Postgres and the
		 * queue consumers idle (no new `processed_events` row for two seconds). Without it a scenario is measured
		 * while the consumers still work through the events of the one before (55,000 after the batches).
		 */
		const settle = async (nations: string[]) => {
			const started = Date.now();
			const deadline = started + 180_000;
			for (const nation of nations) {
				for (;;) {
					const ledger = (await (
						await fetch(`${stack.url}/v1/nations/${nation}/ledger`, { headers: auth })
					).json()) as { projection: { lag_entries: number } };
					if (ledger.projection.lag_entries === 0 || Date.now() > deadline) break;
					await new Promise((resolve) => setTimeout(resolve, 250));
				}
			}
			let last = -1;
			let stableSince = Date.now();
			for (;;) {
				const count = (await db.query<{ n: number }>("select count(*)::int as n from processed_events"))
					.rows[0]?.n;
				if (count !== last) {
					last = count ?? 0;
					stableSince = Date.now();
				} else if (Date.now() - stableSince >= 2_000) break;
				if (Date.now() > deadline) {
					process.stderr.write("[bench:ledger] WARNING: not settled after 180 s; measuring anyway\n");
					break;
				}
				await new Promise((resolve) => setTimeout(resolve, 500));
			}
			process.stderr.write(`[bench:ledger] settled in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
		};
		const used: string[] = [];
		const load = (requests: LoadRequest[]) =>
			runLoad({
				url: stack.url,
				connections: CONNECTIONS,
				durationSeconds: DURATION,
				requests,
				expectStatus: [201],
			});

		if (wants("baseline")) {
			const result = await runLoad({
				url: stack.baselineUrl,
				connections: CONNECTIONS,
				durationSeconds: DURATION,
			});
			rows.push(row("bare worker (baseline)", result, 0));
		}
		if (wants("single")) {
			used.push("KE");
			const result = await load([keyed(() => "/v1/nations/KE/ledger/transfers", JSON.stringify(fund(100)))]);
			rows.push(row("single transfers, one nation", result, 1));
		}
		if (wants("batch")) {
			await settle(used);
			used.push("NG");
			const batch = JSON.stringify({ transfers: Array.from({ length: 100 }, (_, i) => fund(i + 1)) });
			const result = await load([keyed(() => "/v1/nations/NG/ledger/transfers", batch)]);
			rows.push(row("batches of 100, one nation", result, 100));
		}
		if (wants("spread")) {
			await settle(used);
			const codes = LEDGER_NATIONS.map((n) => n.iso2);
			used.push(...codes.filter((code) => !used.includes(code)));
			let next = 0;
			const result = await load([
				keyed(
					() => {
						next = (next + 1) % codes.length;
						return `/v1/nations/${codes[next]}/ledger/transfers`;
					},
					JSON.stringify(fund(100)),
				),
			]);
			rows.push(row("single transfers, 195 nations", result, 1));
		}
		if (wants("lag")) {
			await settle(used);
			const started = new Date();
			const body = JSON.stringify(fund(100));
			const result = await paced(LAG_RATE, DURATION, () => post("BR", body));
			rows.push({
				scenario: `single transfers paced at ${LAG_RATE}/s, one nation`,
				"requests/s": result.requests_per_s,
				"transfers/s": result.requests_per_s,
				"p50 ms": result.p50_ms,
				"p99 ms": result.p99_ms,
				ok: result.ok,
				failed: result.failed,
			});
			const deadline = Date.now() + 60_000;
			for (;;) {
				const ledger = (await (
					await fetch(`${stack.url}/v1/nations/BR/ledger`, { headers: auth })
				).json()) as {
					projection: { lag_entries: number };
				};
				if (ledger.projection.lag_entries === 0) break;
				if (Date.now() > deadline) throw new Error("the BR projection did not catch up within 60 s");
				await new Promise((resolve) => setTimeout(resolve, 200));
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
			const stat = stats.rows[0];
			lag = {
				entries: stat?.n ?? 0,
				p50_ms: Math.round(stat?.p50 ?? 0),
				p99_ms: Math.round(stat?.p99 ?? 0),
				max_ms: Math.round(stat?.max ?? 0),
			};
		}

		// The books must balance after all that.
		for (const nation of ["KE", "NG", "BR"]) {
			const ledger = (await (
				await fetch(`${stack.url}/v1/nations/${nation}/ledger`, { headers: auth })
			).json()) as {
				totals: { debits_posted: number; credits_posted: number };
				head: { sequence: number };
			};
			if (ledger.totals.debits_posted !== ledger.totals.credits_posted) {
				throw new Error(`${nation}'s debits and credits differ after the bench`);
			}
			process.stderr.write(`[bench:ledger] ${nation}: ${ledger.head.sequence} entries, debits = credits\n`);
		}
	} finally {
		await db.end();
		await stack.close();
	}

	const meta = { ...machine(), duration_s: DURATION, connections: CONNECTIONS, postgres: stack.databaseKind };
	console.log(
		`\nLedger benchmark: ${meta.cpus}, ${DURATION} s per scenario, ${CONNECTIONS} connections, Postgres ${meta.postgres}\n`,
	);
	printTable(rows);
	if (lag) {
		console.log(
			`\nProjection lag at ${LAG_RATE} transfers/s (${lag.entries} entries, ledger -> Postgres): p50 ${lag.p50_ms} ms, p99 ${lag.p99_ms} ms, max ${lag.max_ms} ms`,
		);
	}
	console.log(`\nwritten to ${writeResults("ledger", { ...meta, rows, projection_lag: lag })}`);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
