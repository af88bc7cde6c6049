/**
 * `npm run bench:sync`: mobile sync (GET/POST /v1/sync) through the BUILT worker in workerd (Miniflare's API),
 * at the seed's size (195 nations, 6 sectors, ~600 projects) and at ten times the projects.
 *
 * For each size: a first sync page by page (default page size, and the largest page a client may ask for),
 * reporting pages, records, the largest page's bytes, wall time, and the worker's CPU per page (workerd's CPU
 * time from /proc: the figure to hold against the Workers CPU limit); then an incremental pull with nothing
 * new under load (autocannon), and pushes of 100 field reports.
 *
 * Prints tables, writes JSON to bench/results/. Postgres: BENCH_DATABASE_URL's server (a fresh database), else
 * an embedded PGlite. Flags: --duration <s> for the load run (default 10), --connections <n> (default 16).
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../../workers/sync/limits.ts";
import {
	type BenchStack,
	machine,
	printTable,
	runLoad,
	startBenchStack,
	workerdCpuMs,
	writeResults,
} from "./harness.ts";

const { values: flags } = parseArgs({
	options: {
		duration: { type: "string", default: "10" },
		connections: { type: "string", default: "16" },
	},
});
const SCOPE = "sync:read sync:write projects:read";

function log(message: string) {
	process.stderr.write(`[bench:sync] ${message}\n`);
}

interface FirstSync {
	size: string;
	page_size: number;
	pages: number;
	records: number;
	largest_page_kb: number;
	total_mb: number;
	wall_ms: number;
	worker_cpu_ms_per_page: number | string;
	slowest_page_ms: number;
}

/** Pulls page after page from null until `has_more` is false, as an app's sync loop does. */
async function firstSync(stack: BenchStack, size: string, pageSize: number): Promise<FirstSync> {
	const headers = {
		authorization: `Bearer ${await stack.token(SCOPE, { sub: `bench-${size}-${pageSize}` })}`,
	};
	let lastPulledAt: number | null = null;
	let pages = 0;
	let records = 0;
	let largest = 0;
	let bytes = 0;
	let slowest = 0;
	const cpuBefore = workerdCpuMs();
	const started = performance.now();
	for (;;) {
		const pageStarted = performance.now();
		const response = await fetch(
			`${stack.url}/v1/sync?last_pulled_at=${lastPulledAt}&schema_version=2&page_size=${pageSize}`,
			{ headers },
		);
		const text = await response.text();
		if (response.status !== 200) throw new Error(`pull: ${response.status} ${text.slice(0, 300)}`);
		slowest = Math.max(slowest, performance.now() - pageStarted);
		const page = JSON.parse(text) as {
			changes: Record<string, { created: unknown[]; updated: unknown[]; deleted: unknown[] }>;
			timestamp: number;
			has_more: boolean;
		};
		pages += 1;
		bytes += text.length;
		largest = Math.max(largest, text.length);
		for (const table of Object.values(page.changes)) {
			records += table.created.length + table.updated.length + table.deleted.length;
		}
		lastPulledAt = page.timestamp;
		if (!page.has_more) break;
	}
	const wall = performance.now() - started;
	const cpuAfter = workerdCpuMs();
	return {
		size,
		page_size: pageSize,
		pages,
		records,
		largest_page_kb: Math.round(largest / 1024),
		total_mb: Math.round((bytes / 2 ** 20) * 10) / 10,
		wall_ms: Math.round(wall),
		worker_cpu_ms_per_page:
			cpuBefore === undefined || cpuAfter === undefined ? "n/a" : Math.round((cpuAfter - cpuBefore) / pages),
		slowest_page_ms: Math.round(slowest),
	};
}

/** Copies of the seed projects (new ids and names) until there are `factor` times as many. */
async function growProjects(databaseUrl: string, factor: number): Promise<number> {
	const client = new pg.Client(databaseUrl);
	await client.connect();
	try {
		for (let copy = 1; copy < factor; copy++) {
			await client.query(
				`insert into projects (name, sector, nation_iso2, serving_region, region, status, budget_cents, funded_cents,
					expected_yield_bps, lat, lng, summary)
				select name || ' (copy ' || $1 || ')', sector, nation_iso2, serving_region, region, status, budget_cents,
					funded_cents, expected_yield_bps, lat, lng, summary
				from projects where name not like '% (copy %)'`,
				[copy],
			);
		}
		const result = await client.query("select count(*)::int as n from projects where deleted_at is null");
		return result.rows[0].n as number;
	} finally {
		await client.end();
	}
}

async function pushes(stack: BenchStack, count: number): Promise<Record<string, number | string>> {
	const sub = "bench-pusher";
	const headers = {
		authorization: `Bearer ${await stack.token(SCOPE, { sub })}`,
		"content-type": "application/json",
	};
	const first = await fetch(`${stack.url}/v1/sync?last_pulled_at=null&schema_version=2&page_size=1`, {
		headers,
	});
	const { timestamp } = (await first.json()) as { timestamp: number };
	const client = new pg.Client(stack.databaseUrl);
	await client.connect();
	const projectId = (await client.query("select id::text as id from projects order by id limit 1")).rows[0]
		?.id;
	await client.end();
	if (!projectId) throw new Error("no project to report on");
	const timings: number[] = [];
	for (let i = 0; i < 10; i++) {
		const now = Date.now();
		const reports = Array.from({ length: count }, (_, n) => ({
			id: `bench${i}x${n}x${now}`.slice(0, 64),
			project_id: projectId,
			note: `Site visit ${n}: the works are on schedule, the access road needs grading before the rains.`,
			photo_ref: null,
			lat: -1.28,
			lng: 36.82,
			created_at: now,
			updated_at: now,
		}));
		const body = JSON.stringify({
			changes: { field_reports: { created: reports, updated: [], deleted: [] } },
			lastPulledAt: timestamp,
		});
		const started = performance.now();
		const response = await fetch(`${stack.url}/v1/sync?last_pulled_at=${timestamp}`, {
			method: "POST",
			headers,
			body,
		});
		if (response.status !== 200) throw new Error(`push: ${response.status} ${await response.text()}`);
		timings.push(performance.now() - started);
	}
	timings.sort((a, b) => a - b);
	return {
		scenario: `push ${count} new field reports (10 pushes)`,
		p50_ms: Math.round(timings[4] ?? 0),
		max_ms: Math.round(timings.at(-1) ?? 0),
	};
}

const stack = await startBenchStack({ name: "sync", log });
try {
	const firstSyncs: FirstSync[] = [];
	const seedProjects = await growProjects(stack.databaseUrl, 1);
	log(`seed size: ${seedProjects} projects`);
	// A cold isolate pays for compiling the bundle and fetching the issuer's keys once: not what a pull costs.
	await firstSync(stack, "warm-up", 100);
	firstSyncs.push(await firstSync(stack, "1x", DEFAULT_PAGE_SIZE));
	firstSyncs.push(await firstSync(stack, "1x", MAX_PAGE_SIZE));
	const grown = await growProjects(stack.databaseUrl, 10);
	log(`grown to ${grown} projects`);
	firstSyncs.push(await firstSync(stack, "10x", DEFAULT_PAGE_SIZE));
	firstSyncs.push(await firstSync(stack, "10x", MAX_PAGE_SIZE));
	printTable(firstSyncs as unknown as Record<string, string | number>[]);

	// An app syncing in the background with nothing new: the common case, under load.
	const token = await stack.token(SCOPE, { sub: "bench-idle" });
	const headers = { authorization: `Bearer ${token}` };
	let synced: { timestamp: number | null; has_more: boolean } = { timestamp: null, has_more: true };
	while (synced.has_more) {
		const url = `${stack.url}/v1/sync?last_pulled_at=${synced.timestamp}&schema_version=2&page_size=${MAX_PAGE_SIZE}`;
		synced = (await (await fetch(url, { headers })).json()) as typeof synced;
	}
	const idle = await runLoad({
		url: `${stack.url}/v1/sync?last_pulled_at=${synced.timestamp}&schema_version=2`,
		headers,
		connections: Number(flags.connections),
		durationSeconds: Number(flags.duration),
	});
	const pushResults = [await pushes(stack, 100)];
	printTable([
		{
			scenario: "incremental pull, nothing new",
			requests_per_s: idle.requests_per_s,
			p50_ms: idle.p50_ms,
			p99_ms: idle.p99_ms,
			worker_cpu_us: idle.worker_cpu_us ?? "n/a",
			failed: idle.failed,
		},
	]);
	printTable(pushResults);
	const file = writeResults("sync", {
		machine: machine(),
		database: stack.databaseKind,
		first_syncs: firstSyncs,
		incremental_idle: idle,
		pushes: pushResults,
	});
	log(`results: ${file}`);
} finally {
	await stack.close();
}
