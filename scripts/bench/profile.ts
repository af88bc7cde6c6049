/**
 * `node scripts/bench/profile.ts <scenario>`: a CPU profile of the built worker (worker, Durable Objects and
 * queue consumers share its isolate) while autocannon loads one route, then the functions that took the most
 * self time. A tool for finding where a benchmark's time goes, not a benchmark itself.
 *
 * Scenarios: ledger-single, ledger-batch, read-nation, read-projects. Flags: --duration <s> (default 10),
 * --connections <n> (default 32), --out <file.cpuprofile> (open it in Chrome's DevTools).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runLoad, startBenchStack } from "./harness.ts";

const { values: flags, positionals } = parseArgs({
	allowPositionals: true,
	options: {
		duration: { type: "string", default: "10" },
		connections: { type: "string", default: "32" },
		out: { type: "string" },
		top: { type: "string", default: "40" },
	},
});
const scenario = positionals[0] ?? "ledger-single";
const INSPECTOR_PORT = 9239;

interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
	hitCount?: number;
	children?: number[];
}
interface Profile {
	nodes: ProfileNode[];
	startTime: number;
	endTime: number;
	samples?: number[];
	timeDeltas?: number[];
}

async function inspector() {
	const targets = (await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json/list`)).json()) as {
		title?: string;
		webSocketDebuggerUrl: string;
	}[];
	const target = targets.find((t) => t.title?.includes("covenant-edge")) ?? targets[0];
	if (!target) throw new Error("no inspector target");
	const socket = new WebSocket(target.webSocketDebuggerUrl);
	await new Promise((resolve, reject) => {
		socket.onopen = resolve;
		socket.onerror = reject;
	});
	let nextId = 1;
	const waiting = new Map<number, (result: unknown) => void>();
	socket.onmessage = (event) => {
		const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
		if (message.id !== undefined) waiting.get(message.id)?.(message.result);
	};
	return {
		send: <T>(method: string, params: Record<string, unknown> = {}) =>
			new Promise<T>((resolve) => {
				const id = nextId++;
				waiting.set(id, resolve as (result: unknown) => void);
				socket.send(JSON.stringify({ id, method, params }));
			}),
		close: () => socket.close(),
	};
}

function summarise(profile: Profile, top: number) {
	const byId = new Map(profile.nodes.map((n) => [n.id, n]));
	const self = new Map<string, number>();
	const total = profile.samples?.length ?? 0;
	for (const id of profile.samples ?? []) {
		const node = byId.get(id);
		if (!node) continue;
		const { functionName, url, lineNumber } = node.callFrame;
		const key = `${functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}:${lineNumber + 1}`;
		self.set(key, (self.get(key) ?? 0) + 1);
	}
	const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
	console.log("self time:");
	for (const [key, count] of rows) console.log(`${((100 * count) / total).toFixed(1).padStart(5)}%  ${key}`);

	// Inclusive time: each sample counts once for every distinct function on its stack (where a path's time goes).
	const parent = new Map<number, number>();
	for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
	const inclusive = new Map<string, number>();
	for (const id of profile.samples ?? []) {
		const seen = new Set<string>();
		for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
			const frame = byId.get(at)?.callFrame;
			if (!frame?.url) continue;
			seen.add(
				`${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`,
			);
		}
		for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + 1);
	}
	console.log("\ninclusive time (functions with a source location):");
	for (const [key, count] of [...inclusive.entries()].sort((a, b) => b[1] - a[1]).slice(0, top))
		console.log(`${((100 * count) / total).toFixed(1).padStart(5)}%  ${key}`);
}

async function main() {
	const stack = await startBenchStack({ name: "profile", inspectorPort: INSPECTOR_PORT });
	try {
		const token = await stack.token("admin");
		const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
		const fund = (amount: number) => ({
			kind: "adjustment",
			debit_account: "treasury",
			credit_account: "national_funding",
			amount,
		});
		const requests = {
			"ledger-single": { path: "/v1/nations/KE/ledger/transfers", body: JSON.stringify(fund(100)) },
			"ledger-batch": {
				path: "/v1/nations/NG/ledger/transfers",
				body: JSON.stringify({ transfers: Array.from({ length: 100 }, (_, i) => fund(i + 1)) }),
			},
			"read-nation": { path: "/v1/nations/KE" },
			"read-projects": { path: "/v1/projects?sector=energy&limit=50" },
		}[scenario];
		if (!requests) throw new Error(`unknown scenario ${scenario}`);
		const request = {
			method: "body" in requests ? "POST" : "GET",
			setupRequest: (r: object) => ({
				...r,
				method: "body" in requests ? "POST" : "GET",
				path: requests.path,
				headers: { ...auth, "idempotency-key": crypto.randomUUID() },
				...("body" in requests ? { body: requests.body } : {}),
			}),
		};
		// Warm up (JWKS, isolate, objects, caches).
		await runLoad({ url: stack.url, connections: 4, durationSeconds: 2, requests: [request] });
		const session = await inspector();
		await session.send("Profiler.enable");
		await session.send("Profiler.setSamplingInterval", { interval: 200 });
		await session.send("Profiler.start");
		const result = await runLoad({
			url: stack.url,
			connections: Number(flags.connections),
			durationSeconds: Number(flags.duration),
			requests: [request],
		});
		const { profile } = await session.send<{ profile: Profile }>("Profiler.stop");
		session.close();
		console.log(
			`${scenario}: ${result.requests_per_s} req/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, statuses ${JSON.stringify(result.statuses)}, worker CPU ${result.worker_cpu_us} µs/request`,
		);
		if (flags.out) writeFileSync(flags.out, JSON.stringify(profile));
		summarise(profile, Number(flags.top));
	} finally {
		await stack.close();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
