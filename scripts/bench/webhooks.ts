/**
 * `npm run bench:webhooks`: webhook delivery throughput and latency through the BUILT worker (wrangler's dry-run
 * bundle) under Miniflare, with its real queues: events go onto `covenant-webhooks`, the webhooks consumer fans
 * each out to every endpoint, the deliveries queue signs and POSTs each message to a local receiver
 * (test/node/webhook-receiver.ts), which verifies every signature with the `standardwebhooks` package.
 *
 * Scenarios:
 * - burst: `--events` events sent at once, each to `--endpoints` endpoints: deliveries/s until the last arrives;
 * - steady: `--rate` events/s for `--duration` s: latency from the event's time to its delivery at a load the
 *   pipeline keeps up with.
 * Latency is measured from the event's `time` (set when it is sent) to its arrival at the receiver, so it includes
 * both queues' batching waits (max_batch_timeout in wrangler.toml), the fan-out transaction and the attempt.
 *
 * Postgres: BENCH_DATABASE_URL (a fresh database is created on that server and dropped afterwards), else an
 * embedded PGlite. Prints a table and writes JSON to bench/results/ (scripts/bench/harness.ts helpers; the
 * worker runs under its own Miniflare here, since the scenarios send straight onto its queues).
 *
 * Flags: --endpoints (10), --events (500), --rate (20), --duration (10), --timeout (180 s), --verbose.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4MiniflareOptions } from "miniflare";
import { Webhook } from "standardwebhooks";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { type ReceivedRequest, startWebhookReceiver } from "../../test/node/webhook-receiver.ts";
import { prepareDatabase } from "../lib/database.ts";
import { createIssuerKey, mintToken, serveIssuer } from "../lib/dev-issuer.ts";
import { startWsProxy } from "../lib/ws-proxy.ts";
import { buildWorker, machine, printTable, ROOT, writeResults } from "./harness.ts";

const { values: flags } = parseArgs({
	options: {
		endpoints: { type: "string", default: "10" },
		events: { type: "string", default: "500" },
		rate: { type: "string", default: "20" },
		duration: { type: "string", default: "10" },
		timeout: { type: "string", default: "180" },
		verbose: { type: "boolean", default: false },
	},
});
const ENDPOINTS = Number(flags.endpoints);
const BURST_EVENTS = Number(flags.events);
const RATE = Number(flags.rate);
const DURATION = Number(flags.duration);
const WAIT_MS = Number(flags.timeout) * 1000;
const AUDIENCE = "https://api.covenant.example";

interface Row {
	scenario: string;
	events: number;
	deliveries: number;
	delivered: number;
	deliveries_per_s: number;
	p50_ms: number;
	p99_ms: number;
	max_ms: number;
	duplicates: number;
	bad_signatures: number;
}

function log(message: string) {
	process.stderr.write(`[bench:webhooks] ${message}\n`);
}

const percentile = (sorted: number[], p: number) =>
	sorted.length === 0
		? 0
		: (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);

/** What the receiver saw for one scenario's events. */
class Tally {
	readonly latencies: number[] = [];
	readonly seen = new Set<string>();
	duplicates = 0;
	badSignatures = 0;
	lastAt = 0;
	readonly eventIds: Set<string>;
	readonly secrets: Map<string, Webhook>;
	constructor(eventIds: Set<string>, secrets: Map<string, Webhook>) {
		this.eventIds = eventIds;
		this.secrets = secrets;
	}

	record(request: ReceivedRequest) {
		const id = request.headers["webhook-id"] ?? "";
		if (!this.eventIds.has(id)) return;
		const key = `${request.path}|${id}`;
		if (this.seen.has(key)) this.duplicates++;
		this.seen.add(key);
		try {
			const verifier = this.secrets.get(request.path);
			if (!verifier) throw new Error(`no secret for ${request.path}`);
			const payload = verifier.verify(request.body, {
				"webhook-id": id,
				"webhook-timestamp": request.headers["webhook-timestamp"] ?? "",
				"webhook-signature": request.headers["webhook-signature"] ?? "",
			}) as { timestamp: string };
			this.latencies.push(request.received_at - Date.parse(payload.timestamp));
		} catch {
			this.badSignatures++;
		}
		this.lastAt = Math.max(this.lastAt, request.received_at);
	}

	row(scenario: string, events: number, startedAt: number): Row {
		const sorted = [...this.latencies].sort((a, b) => a - b);
		const seconds = Math.max(0.001, (this.lastAt - startedAt) / 1000);
		return {
			scenario,
			events,
			deliveries: events * ENDPOINTS,
			delivered: this.seen.size,
			deliveries_per_s: Math.round(this.seen.size / seconds),
			p50_ms: percentile(sorted, 50),
			p99_ms: percentile(sorted, 99),
			max_ms: sorted.at(-1) ?? 0,
			duplicates: this.duplicates,
			bad_signatures: this.badSignatures,
		};
	}
}

const NATIONS = ["KE", "NG", "GH", "BR", "IN", "ID", "DE", "FR", "AU", "CA"];

function projectEvent(index: number) {
	return {
		specversion: "1.0",
		id: crypto.randomUUID(),
		source: "bench/webhooks",
		type: "covenant.projects.updated",
		subject: `projects/bench-${index}`,
		time: new Date().toISOString(),
		datacontenttype: "application/json",
		data: {
			project_id: crypto.randomUUID(),
			nation: NATIONS[index % NATIONS.length],
			sector: "energy",
			serving_region: "jnb",
			status: "active",
			funded_cents: 1_000_000 + index,
		},
	};
}

async function waitFor(tally: Tally, expected: number): Promise<void> {
	const deadline = Date.now() + WAIT_MS;
	while (tally.seen.size < expected && Date.now() < deadline) {
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	if (tally.seen.size < expected) log(`timed out: ${tally.seen.size} of ${expected} deliveries arrived`);
}

async function main() {
	const scriptPath = buildWorker("webhooks", log);
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
	const receiver = await startWebhookReceiver({ record: false });
	const token = await mintToken(key, {
		sub: "bench-partner",
		scope: "partner",
		issuer: issuer.issuer,
		audience: AUDIENCE,
		expiresIn: "2h",
	});

	const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"));
	const mf = new Miniflare(
		convertV4MiniflareOptions({
			// --verbose shows the worker's own logs (consumer errors, retries).
			log: flags.verbose ? new Log(LogLevel.INFO) : undefined,
			workers: [
				{
					...workerOptions,
					name: "covenant-edge",
					modules: true,
					scriptPath,
					modulesRules: undefined,
					cronTriggers: undefined,
					bindings: {
						...(workerOptions.bindings as Record<string, unknown> | undefined),
						ENVIRONMENT: "development",
						BUILD_VERSION: "bench",
						DATABASE_URL: database.url,
						NEON_WS_PROXY: proxy.wsProxy,
						AUTH_ISSUER: issuer.issuer,
						AUTH_JWKS_URL: issuer.jwksUrl,
						RATE_LIMIT_PER_MINUTE: "1000000000",
						RATE_LIMIT_BURST: "100000000",
						// The receiver is on 127.0.0.1.
						WEBHOOKS_ALLOW_LOCALHOST: "true",
					},
				},
			],
		} as V4MiniflareOptions),
	);

	const rows: Row[] = [];
	try {
		const url = (await mf.ready).toString().replace(/\/$/, "");
		const secrets = new Map<string, Webhook>();
		for (let i = 0; i < ENDPOINTS; i++) {
			const path = `/hooks/bench-${i}`;
			const response = await fetch(`${url}/v1/webhooks/endpoints`, {
				method: "POST",
				headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
				body: JSON.stringify({ url: `${receiver.url}${path}`, event_types: ["covenant.projects.*"] }),
			});
			const body = (await response.json()) as { secret?: string };
			if (response.status !== 201 || !body.secret) {
				throw new Error(`endpoint creation failed: ${response.status} ${JSON.stringify(body)}`);
			}
			secrets.set(path, new Webhook(body.secret));
		}
		log(`${ENDPOINTS} endpoints registered`);
		const queue = await mf.getQueueProducer("WEBHOOKS_QUEUE");

		// Warm-up: isolate start, JWKS, the first connections.
		{
			const warm = [projectEvent(0)];
			const tally = new Tally(new Set(warm.map((e) => e.id)), secrets);
			receiver.onDelivered = (request) => tally.record(request);
			await queue.sendBatch(warm.map((body) => ({ body })));
			await waitFor(tally, ENDPOINTS);
		}

		{
			log(`burst: ${BURST_EVENTS} events x ${ENDPOINTS} endpoints`);
			const events = Array.from({ length: BURST_EVENTS }, (_, i) => projectEvent(i));
			const tally = new Tally(new Set(events.map((e) => e.id)), secrets);
			receiver.onDelivered = (request) => tally.record(request);
			const startedAt = Date.now();
			for (let i = 0; i < events.length; i += 100) {
				await queue.sendBatch(events.slice(i, i + 100).map((body) => ({ body })));
			}
			await waitFor(tally, BURST_EVENTS * ENDPOINTS);
			rows.push(tally.row(`burst (${BURST_EVENTS} events at once)`, BURST_EVENTS, startedAt));
		}

		{
			const total = RATE * DURATION;
			log(`steady: ${RATE} events/s for ${DURATION} s x ${ENDPOINTS} endpoints`);
			const events = Array.from({ length: total }, (_, i) => i);
			const ids = new Set<string>();
			const tally = new Tally(ids, secrets);
			receiver.onDelivered = (request) => tally.record(request);
			const startedAt = Date.now();
			for (const i of events) {
				const due = startedAt + (i * 1000) / RATE;
				const wait = due - Date.now();
				if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
				const event = projectEvent(i);
				ids.add(event.id);
				await queue.send(event);
			}
			await waitFor(tally, total * ENDPOINTS);
			rows.push(tally.row(`steady (${RATE} events/s for ${DURATION} s)`, total, startedAt));
		}
	} finally {
		await mf.dispose();
		await receiver.close();
		await issuer.close();
		await proxy.close();
		await database.dispose();
	}

	const meta = {
		when: new Date().toISOString(),
		endpoints: ENDPOINTS,
		postgres: database.kind,
		...machine(),
		// The machine is shared: its load during the run says how far to trust the numbers.
		load_average_1m: Number(loadavg()[0]?.toFixed(1)),
	};
	console.log(
		`\nWebhooks benchmark (${meta.cpus}, load ${meta.load_average_1m}; ${ENDPOINTS} endpoints; Postgres: ${database.kind})\n`,
	);
	printTable(rows as unknown as Record<string, string | number>[]);
	console.log(`\nwritten to ${writeResults("webhooks", { ...meta, rows })}`);
	if (rows.some((r) => r.delivered < r.deliveries || r.duplicates > 0 || r.bad_signatures > 0))
		process.exitCode = 1;
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
