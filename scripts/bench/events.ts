/**
 * `npm run bench:events`: events per second through each queue consumer, end to end (an event produced onto the
 * consumer's queue -> its effect committed in Postgres), and the latency of each event, on the BUILT worker
 * (wrangler's dry-run bundle) under Miniflare's API with wrangler.toml's own queues (batch sizes, timeouts).
 *
 * For each consumer (audit, analytics, notifications, cache), two scenarios:
 * - burst: `--events` events sent at once in sendBatch calls of 100: throughput until the last effect is visible;
 * - steady: `--rate` events/s for `--duration` s: latency at a load the consumer keeps up with.
 * An event's effect is visible when its `processed_events` row is (the runner inserts it in the same transaction
 * as the effect); latency is measured from just before its sendBatch call to the start of the transaction that
 * applied it (Postgres `now()`), so it includes the queue's batching wait (max_batch_timeout). Events/s is
 * measured from the first send to the moment the poller saw the last effect (50 ms polls).
 *
 * Notifications: `--subscribers` people follow the events' sector with one FCM device each; every event becomes
 * that many deliveries pushed to a local receiver (test/node/push-receiver.ts) speaking FCM's HTTP v1 API.
 *
 * Postgres: BENCH_DATABASE_URL (a fresh database is created there and dropped afterwards), else embedded PGlite.
 * Prints a table and writes JSON to bench/results/.
 */
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { convertV4MiniflareOptions, Miniflare, type V4MiniflareOptions } from "miniflare";
import pg from "pg";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { startPushReceiver } from "../../test/node/push-receiver.ts";
import { prepareDatabase } from "../lib/database.ts";
import { startWsProxy } from "../lib/ws-proxy.ts";
import { buildWorker, machine, printTable, ROOT, writeResults } from "./harness.ts";

const { values: flags } = parseArgs({
	options: {
		events: { type: "string", default: "5000" },
		rate: { type: "string", default: "500" },
		duration: { type: "string", default: "10" },
		subscribers: { type: "string", default: "10" },
		only: { type: "string" },
		timeout: { type: "string", default: "300" },
	},
});
const BURST = Number(flags.events);
const RATE = Number(flags.rate);
const DURATION = Number(flags.duration);
const SUBSCRIBERS = Number(flags.subscribers);
const WAIT_MS = Number(flags.timeout) * 1000;

const log = (message: string) => process.stderr.write(`[bench:events] ${message}\n`);

type Consumer = "audit" | "analytics" | "notifications" | "cache";
const BINDINGS: Record<Consumer, string> = {
	audit: "AUDIT_QUEUE",
	analytics: "ANALYTICS_QUEUE",
	notifications: "NOTIFICATIONS_QUEUE",
	cache: "CACHE_QUEUE",
};

interface Row {
	consumer: Consumer;
	scenario: string;
	events: number;
	applied: number;
	events_per_s: number;
	p50_ms: number;
	p99_ms: number;
	max_ms: number;
	[extra: string]: string | number;
}

const percentile = (sorted: number[], p: number) =>
	sorted.length === 0
		? 0
		: (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);

/** A CloudEvent as the producers build it, for the given consumer. */
function eventFor(consumer: Consumer, run: string, i: number, projects: string[]) {
	const base = {
		specversion: "1.0",
		id: `bench-${consumer}-${run}-${i}`,
		source: "covenant-edge/bench",
		time: new Date().toISOString(),
		datacontenttype: "application/json",
		requestid: `req-${run}-${i}`,
		actor: `bench-${run}`,
	};
	const project = projects[i % projects.length] as string;
	switch (consumer) {
		case "audit":
			return {
				...base,
				type: "covenant.projects.updated",
				subject: `projects/${project}`,
				data: {
					project_id: project,
					sector: "energy",
					nation: "KE",
					serving_region: "jnb",
					version: i,
					changed: ["status", "funded_cents"],
					before: { status: "approved", funded_cents: i * 100 },
					after: { status: "active", funded_cents: i * 100 + 50_000 },
				},
			};
		case "analytics":
			return i % 2 === 0
				? {
						...base,
						type: "covenant.payments.recorded",
						subject: `nations/KE/ledger/transfers/${i}`,
						data: {
							nation: ["KE", "FR", "BR", "JP"][i % 4],
							kind: i % 4 === 0 ? "distribution" : "contribution",
							amount_cents: 1000 + i,
						},
					}
				: {
						...base,
						type: "covenant.projects.updated",
						subject: `projects/${project}`,
						data: { project_id: project, sector: "energy", serving_region: "jnb" },
					};
		case "notifications":
			return {
				...base,
				type: "covenant.projects.created",
				subject: `projects/${project}`,
				data: {
					project_id: project,
					name: `Bench project ${i}`,
					sector: "energy",
					nation: "KE",
					serving_region: "jnb",
				},
			};
		case "cache":
			return {
				...base,
				type: "covenant.projects.updated",
				subject: `projects/${project}`,
				data: { project_id: project, sector: "energy", serving_region: "jnb" },
			};
	}
}

async function main() {
	const consumers = (flags.only ? flags.only.split(",") : Object.keys(BINDINGS)) as Consumer[];
	const scriptPath = buildWorker("events", log);
	const database = await prepareDatabase({
		serverUrl: process.env.BENCH_DATABASE_URL,
		fresh: true,
		seed: true,
		log,
	});
	log(`postgres: ${database.kind}`);
	const proxy = await startWsProxy();
	const receiver = await startPushReceiver();
	const client = new pg.Client(database.url);
	await client.connect();

	const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
	const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"));
	const mf = new Miniflare(
		convertV4MiniflareOptions({
			workers: [
				{
					...workerOptions,
					name: "covenant-edge",
					modules: true,
					scriptPath,
					modulesRules: undefined,
					// The sweeps would add load the scenarios did not ask for.
					cronTriggers: undefined,
					bindings: {
						...(workerOptions.bindings as Record<string, unknown> | undefined),
						ENVIRONMENT: "development",
						BUILD_VERSION: "bench-events",
						DATABASE_URL: database.url,
						NEON_WS_PROXY: proxy.wsProxy,
						FCM_BASE_URL: `${receiver.url}/fcm`,
						FCM_PROJECT_ID: "covenant-bench",
						FCM_SERVICE_ACCOUNT: JSON.stringify({
							client_email: "bench@covenant-bench.iam.gserviceaccount.com",
							private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
							token_uri: `${receiver.url}/oauth/token`,
						}),
					},
				},
			],
		} as V4MiniflareOptions),
	);

	const rows: Row[] = [];
	try {
		await mf.ready;
		const projects = (
			await client.query<{ id: string }>("select id::text from projects order by id limit 200")
		).rows.map((r) => r.id);
		for (let i = 0; i < SUBSCRIBERS; i++) {
			const user = `bench-subscriber-${i}`;
			await client.query(
				"insert into notification_settings (user_id, sectors) values ($1, '{energy}') on conflict do nothing",
				[user],
			);
			await client.query(
				"insert into notification_devices (user_id, platform, token) values ($1, 'fcm', $2) on conflict do nothing",
				[user, `bench-fcm-token-${i}-0123456789abcdef`],
			);
		}

		/** Sends the events (recording when each was sent) and waits until every effect is visible. */
		const measure = async (
			consumer: Consumer,
			scenario: string,
			run: string,
			schedule: "burst" | "steady",
			count = schedule === "burst" ? BURST : RATE * DURATION,
		) => {
			const queue = await mf.getQueueProducer(BINDINGS[consumer]);
			const total = count;
			const sentAt = new Map<string, number>();
			const startedAt = Date.now();
			if (schedule === "burst") {
				for (let i = 0; i < total; i += 100) {
					const chunk = Array.from({ length: Math.min(100, total - i) }, (_, k) =>
						eventFor(consumer, run, i + k, projects),
					);
					const at = Date.now();
					for (const e of chunk) sentAt.set(e.id, at);
					await queue.sendBatch(chunk.map((body) => ({ body, contentType: "json" as const })));
				}
			} else {
				// Sent in small groups on a fixed schedule (one sendBatch per 20 ms tick).
				const perTick = Math.max(1, Math.round(RATE / 50));
				for (let i = 0; i < total; i += perTick) {
					const due = startedAt + (i / RATE) * 1000;
					const wait = due - Date.now();
					if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
					const chunk = Array.from({ length: Math.min(perTick, total - i) }, (_, k) =>
						eventFor(consumer, run, i + k, projects),
					);
					const at = Date.now();
					for (const e of chunk) sentAt.set(e.id, at);
					await queue.sendBatch(chunk.map((body) => ({ body, contentType: "json" as const })));
				}
			}
			const prefix = `bench-${consumer}-${run}-%`;
			let applied = 0;
			let doneAt = Date.now();
			for (;;) {
				const { rows: counted } = await client.query<{ n: string }>(
					"select count(*) as n from processed_events where consumer = $1 and event_id like $2",
					[consumer, prefix],
				);
				applied = Number(counted[0]?.n ?? 0);
				doneAt = Date.now();
				if (applied >= total || doneAt - startedAt > WAIT_MS) break;
				await new Promise((resolve) => setTimeout(resolve, 50));
			}
			const { rows: timings } = await client.query<{ event_id: string; at: string }>(
				"select event_id, (extract(epoch from processed_at) * 1000)::float8 as at from processed_events where consumer = $1 and event_id like $2",
				[consumer, prefix],
			);
			const latencies = timings
				.map((t) => Number(t.at) - (sentAt.get(t.event_id) ?? Number(t.at)))
				.sort((a, b) => a - b);
			const row: Row = {
				consumer,
				scenario,
				events: total,
				applied,
				events_per_s: Math.round(applied / ((doneAt - startedAt) / 1000)),
				p50_ms: Math.round(percentile(latencies, 50)),
				p99_ms: Math.round(percentile(latencies, 99)),
				max_ms: Math.round(latencies.at(-1) ?? 0),
			};
			if (consumer === "notifications") {
				// The pushes go out after each batch's commit: wait for the last ones too.
				const expected = applied * SUBSCRIBERS;
				let sent = 0;
				let deliveries = 0;
				for (;;) {
					const { rows: pushes } = await client.query<{ status: string; n: string }>(
						"select status, count(*) as n from notification_deliveries where event_id like $1 group by status",
						[prefix],
					);
					deliveries = pushes.reduce((sum, p) => sum + Number(p.n), 0);
					sent = Number(pushes.find((p) => p.status === "sent")?.n ?? 0);
					if (sent >= expected || Date.now() - startedAt > WAIT_MS) break;
					await new Promise((resolve) => setTimeout(resolve, 50));
				}
				row.deliveries = deliveries;
				row.pushes_sent = sent;
				row.pushes_per_s = Math.round(sent / ((Date.now() - startedAt) / 1000));
			}
			if (consumer === "audit") {
				const { rows: audited } = await client.query<{ n: string }>(
					"select count(*) as n from audit_log where event_id like $1",
					[prefix],
				);
				row.rows = Number(audited[0]?.n ?? 0);
			}
			log(`${consumer} ${scenario}: ${JSON.stringify(row)}`);
			return row;
		};

		for (const consumer of consumers) {
			// Warm-up: isolate start, the first connections and JIT, not measured.
			await measure(consumer, "warm-up", `w${Date.now().toString(36)}`, "burst", 300);
			rows.push(await measure(consumer, `burst (${BURST} at once)`, `b${Date.now().toString(36)}`, "burst"));
			rows.push(
				await measure(
					consumer,
					`steady (${RATE}/s for ${DURATION} s)`,
					`s${Date.now().toString(36)}`,
					"steady",
				),
			);
		}
		const { rows: chain } = await client.query<{ n: string }>("select count(*) as n from audit_log");
		log(`audit log holds ${chain[0]?.n} rows`);
	} finally {
		await mf.dispose();
		await client.end();
		await receiver.close();
		await proxy.close();
		await database.dispose();
	}

	const meta = {
		when: new Date().toISOString(),
		postgres: database.kind,
		subscribers: SUBSCRIBERS,
		...machine(),
	};
	console.log(
		`\nEvents benchmark (${meta.cpus}; Postgres: ${database.kind}; batches of up to 100 as in wrangler.toml)\n`,
	);
	printTable(rows as unknown as Record<string, string | number>[]);
	const file = writeResults("events", { ...meta, rows });
	console.log(`\nwritten to ${file}`);
	if (
		rows.some(
			(r) =>
				r.applied < r.events || (r.consumer === "notifications" && r.pushes_sent !== r.events * SUBSCRIBERS),
		)
	) {
		process.exitCode = 1;
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
