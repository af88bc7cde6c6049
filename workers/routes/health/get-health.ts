import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { Context } from "hono";
import { nationLedgerClient } from "../../../durable-objects/nation-ledger/client.ts";
import type { App } from "../../app.ts";
import type { AppEnv } from "../../lib/context.ts";
import { defineRoute } from "../../lib/route.ts";
import { LedgerProjectionHealthSchema, ledgerProjectionHealth } from "../ledger/projection-health.ts";

const CHECK_TIMEOUT_MS = 3_000;

const CheckSchema = z.object({
	status: z.enum(["ok", "failing"]),
	latency_ms: z.number().int(),
	error: z.string().optional(),
});

export const HealthSchema = z
	.object({
		status: z.enum(["ok", "failing"]),
		failing: z.array(z.string()).openapi({ description: "The names of the failing checks" }),
		serving_region: z.string(),
		version: z.string(),
		time: z.string(),
		checks: z.object({ postgres: CheckSchema, kv: CheckSchema, durable_objects: CheckSchema }),
		ledger_projection: LedgerProjectionHealthSchema.nullable().openapi({
			description: "Lag of the ledgers' Postgres projection (docs/ledger.md); null while Postgres is failing",
		}),
	})
	.openapi("Health");
export type HealthResponse = z.infer<typeof HealthSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/health",
	tags: ["health"],
	summary: "Health of Postgres, KV and Durable Objects from this edge",
	access: { public: true },
	responses: {
		200: { description: "Every check passed", content: { "application/json": { schema: HealthSchema } } },
		503: {
			description: "At least one check failed; `failing` names it",
			content: { "application/json": { schema: HealthSchema } },
		},
	},
});

type Check = z.infer<typeof CheckSchema>;

async function timed(run: () => Promise<unknown>): Promise<Check> {
	const started = Date.now();
	let timer: ReturnType<typeof setTimeout> | undefined;
	try {
		await Promise.race([
			run(),
			new Promise((_, reject) => {
				timer = setTimeout(
					() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)),
					CHECK_TIMEOUT_MS,
				);
			}),
		]);
		return { status: "ok", latency_ms: Date.now() - started };
	} catch (error) {
		return { status: "failing", latency_ms: Date.now() - started, error: rootMessage(error) };
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}

/** Drizzle wraps driver errors ("Failed query: ..."); the operator needs the driver's reason. */
function rootMessage(error: unknown): string {
	let current = error;
	while (current instanceof Error && current.cause instanceof Error) current = current.cause;
	return current instanceof Error ? current.message : String(current);
}

export async function checkHealth(c: Context<AppEnv>): Promise<HealthResponse> {
	const [postgres, kv, durable_objects] = await Promise.all([
		timed(() => c.var.db().execute(sql`select 1`)),
		timed(() => c.env.CACHE.get("health:probe")),
		timed(() => nationLedgerClient(c.env, "__health__").ping()),
	]);
	const checks = { postgres, kv, durable_objects };
	const ledger_projection =
		postgres.status === "ok" ? await ledgerProjectionHealth(c.var.db()).catch(() => null) : null;
	const failing = Object.entries(checks)
		.filter(([, check]) => check.status === "failing")
		.map(([name]) => name);
	return {
		status: failing.length ? "failing" : "ok",
		failing,
		serving_region: c.var.servingRegion,
		version: c.env.BUILD_VERSION,
		time: new Date().toISOString(),
		checks,
		ledger_projection,
	};
}

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const health = await checkHealth(c);
		c.header("cache-control", "no-store");
		return health.status === "ok" ? c.json(health, 200) : c.json(health, 503);
	});
