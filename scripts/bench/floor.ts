/**
 * `npm run bench:floor`: what this machine's runtime costs before any of our code runs, for reading the other
 * benchmarks' figures. In one run, with the same load generator and connections, a minimal worker answering:
 * - a constant (the bare worker);
 * - after an RPC call to a Durable Object that does nothing;
 * - after an RPC call to a Durable Object that inserts one row into its SQLite storage, into one object, and
 *   spread over 200 objects;
 * each with Miniflare's state on tmpfs (as the harness runs the benchmarks) and on the disk (the temporary
 * directory), where every commit's fsync stalls the runtime.
 *
 * Flags: --duration <s> (default 5), --connections <n> (default 32).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { convertV4MiniflareOptions, Miniflare, type V4MiniflareOptions } from "miniflare";
import { machine, printTable, runLoad, writeResults } from "./harness.ts";

const { values: flags } = parseArgs({
	options: { duration: { type: "string", default: "5" }, connections: { type: "string", default: "32" } },
});

const SCRIPT = `
import { DurableObject } from "cloudflare:workers";
export class Probe extends DurableObject {
	constructor(ctx, env) {
		super(ctx, env);
		ctx.storage.sql.exec("create table if not exists t (k integer primary key, v text not null)");
	}
	async ping() { return 1; }
	async insert() { this.ctx.storage.sql.exec("insert into t (v) values (?)", "x".repeat(200)); return 1; }
}
export default {
	async fetch(request, env) {
		const path = new URL(request.url).pathname;
		if (path === "/bare") return new Response("ok");
		const name = path === "/insert-spread" ? String(Math.floor(Math.random() * 200)) : "one";
		const stub = env.PROBE.get(env.PROBE.idFromName(name));
		if (path === "/ping") await stub.ping();
		else await stub.insert();
		return new Response("ok");
	},
};`;

async function measure(where: string, stateRoot: string) {
	const stateDir = mkdtempSync(join(stateRoot, "covenant-floor-"));
	const previous = process.env.TMPDIR;
	process.env.TMPDIR = stateDir;
	const mf = new Miniflare(
		convertV4MiniflareOptions({
			workers: [
				{
					name: "floor",
					modules: true,
					script: SCRIPT,
					compatibilityDate: "2026-11-09",
					durableObjects: { PROBE: { className: "Probe", useSQLite: true } },
					unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
				},
			],
		} as V4MiniflareOptions),
	);
	try {
		await mf.ready;
		const url = (await mf.unsafeGetDirectURL("floor")).origin;
		const rows: Record<string, string | number>[] = [];
		for (const [path, label] of [
			["/bare", "bare worker"],
			["/ping", "+ RPC to a Durable Object"],
			["/insert", "+ RPC, one SQLite insert, one object"],
			["/insert-spread", "+ RPC, one SQLite insert, 200 objects"],
		] as const) {
			// On disk only the writes differ.
			if (where === "disk" && !path.startsWith("/insert")) continue;
			const result = await runLoad({
				url: `${url}${path}`,
				connections: Number(flags.connections),
				durationSeconds: Number(flags.duration),
			});
			rows.push({
				scenario: `${label} (state on ${where})`,
				"requests/s": result.requests_per_s,
				"p50 ms": result.p50_ms,
				"p99 ms": result.p99_ms,
				"worker CPU µs": result.worker_cpu_us ?? "-",
			});
		}
		return rows;
	} finally {
		await mf.dispose();
		if (previous === undefined) delete process.env.TMPDIR;
		else process.env.TMPDIR = previous;
		rmSync(stateDir, { recursive: true, force: true });
	}
}

const rows = [...(await measure("tmpfs", "/dev/shm")), ...(await measure("disk", tmpdir()))];
const meta = machine();
console.log(
	`\nRuntime floor: ${meta.cpus}, ${flags.duration} s per scenario, ${flags.connections} connections\n`,
);
printTable(rows);
console.log(`\nwritten to ${writeResults("floor", { ...meta, rows })}`);
