import { handleQueueBatch } from "../queues/dispatch.ts";
import { runScheduled } from "../queues/scheduled.ts";
import { createApp } from "./app.ts";
import { serveHotRead } from "./cache/hot-path.ts";
import { HOT_READS } from "./cache/hot-reads.ts";
import { assertEnv } from "./env.ts";

export * from "../durable-objects/index.ts";

const app = createApp();

export default {
	fetch(request, env, ctx) {
		assertEnv(env);
		// A cached read this isolate can answer from memory skips the pipeline (same answer; cache/hot-path.ts).
		return serveHotRead(HOT_READS, request, env, ctx) ?? app.fetch(request, env, ctx);
	},
	/** Every consumer queue and dead-letter queue, dispatched by queue name (queues/dispatch.ts). */
	async queue(batch, env, ctx) {
		assertEnv(env);
		await handleQueueBatch(batch, env, ctx);
	},
	/** The outbox, push-delivery and pruning sweeps (queues/scheduled.ts). */
	async scheduled(controller, env) {
		assertEnv(env);
		await runScheduled(controller, env);
	},
} satisfies ExportedHandler<Env>;
