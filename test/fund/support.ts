import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { inArray } from "drizzle-orm";
import { ledgerOf } from "../../durable-objects/nation-ledger/client.ts";
import type { NationLedger } from "../../durable-objects/nation-ledger/object.ts";
import { ROUTES } from "../../queues/routing.ts";
import { withDb } from "../../workers/db/client.ts";
import { ledgerEntries, ledgerProjectionState } from "../../workers/db/schema/ledger.ts";
import { MAX_PERIOD_YEAR } from "../../workers/domain/fund/period.ts";
import { nationByCode } from "../../workers/domain/ledger/nations.ts";
import { call, json } from "../support/http.ts";

/**
 * Helpers for the covenant-fund tests. Postgres is shared by every test file of the run, while each file's
 * Durable Objects are its own, so every file writes to the ledgers of nations no other file uses (two files
 * writing one nation's ledger would project two different entry #1 into ledger_entries), and uses its own
 * contribution period, picked at random from years no real schedule uses.
 */
export function ledger(iso2: string) {
	const nation = nationByCode(iso2);
	if (!nation) throw new Error(`no nation ${iso2}`);
	return ledgerOf(env, nation);
}

/** A contribution year of the far future, different for every call (and, with high probability, every run). */
const usedPeriods = new Set<string>();
export function uniquePeriod(): string {
	const used = usedPeriods;
	for (;;) {
		const year = String(2200 + Math.floor(Math.random() * (MAX_PERIOD_YEAR - 2200 + 1)));
		if (!used.has(year)) {
			used.add(year);
			return year;
		}
	}
}

/** Runs each ledger's alarm until its outbox is drained into Postgres. */
export async function drain(nations: readonly string[], rounds = 40): Promise<void> {
	await Promise.all(
		nations.map(async (iso2) => {
			const stub = ledger(iso2);
			for (let i = 0; i < rounds; i++) {
				if ((await stub.balances()).projection.lag_entries === 0) return;
				const ran = await runDurableObjectAlarm(stub);
				if (!ran) await sleep(50);
			}
			throw new Error(`${iso2}'s outbox did not drain`);
		}),
	);
}

/**
 * Holds back (or lets go) the ledgers' projection drains, through the ledger's own seam. Scheduling assesses
 * every active nation at once, and 56 ledgers draining together would take more connections than the test
 * database (PGlite serves 32) has for every suite running beside this one; a held-back drain just retries later.
 */
export async function holdProjection(nations: readonly string[], held: boolean): Promise<void> {
	const database = held
		? { DATABASE_URL: "postgres://postgres@127.0.0.1:1/postgres", NEON_WS_PROXY: env.NEON_WS_PROXY }
		: { DATABASE_URL: env.DATABASE_URL, NEON_WS_PROXY: env.NEON_WS_PROXY };
	for (const iso2 of nations) {
		await runInDurableObject(ledger(iso2), (instance: NationLedger) => {
			instance.projectionDatabase = database;
		});
	}
}

/**
 * Projects the nations' ledgers into Postgres one nation at a time, holding their drains back otherwise (see
 * holdProjection): the test decides when Postgres sees what, and never opens a connection per nation at once.
 */
export async function projectOneByOne(nations: readonly string[]): Promise<void> {
	for (const iso2 of nations) {
		await holdProjection([iso2], false);
		await drain([iso2]);
		await holdProjection([iso2], true);
	}
}

export async function deleteProjection(nations: readonly string[]): Promise<void> {
	if (nations.length === 0) return;
	await withDb(env, async (db) => {
		await db.delete(ledgerEntries).where(inArray(ledgerEntries.nationIso2, [...nations]));
		await db.delete(ledgerProjectionState).where(inArray(ledgerProjectionState.nationIso2, [...nations]));
	});
}

export function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

let counter = 0;
export function uniqueKey(label = "k"): string {
	counter += 1;
	return `${label}-${counter}-${crypto.randomUUID()}`;
}

/** Posts one transfer to a nation's ledger through the HTTP API, failing the test on anything but 201. */
export async function transfer(
	iso2: string,
	headers: Record<string, string>,
	body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
	const response = await call(`/v1/nations/${iso2}/ledger/transfers`, {
		method: "POST",
		headers: { ...headers, "idempotency-key": uniqueKey("t") },
		json: body,
	});
	if (response.status !== 201)
		throw new Error(`transfer on ${iso2} answered ${response.status}: ${await response.text()}`);
	return json(response);
}

/** Money into a treasury from the national budget (the ledger's boundary with the outside world). */
export function fundTreasury(amount: number) {
	return { kind: "adjustment", debit_account: "treasury", credit_account: "national_funding", amount };
}

/** A contribution paid straight from the treasury for a period (no assessment needed). */
export function directContribution(amount: number, period: string) {
	return {
		kind: "contribution",
		debit_account: "fund_contributions",
		credit_account: "treasury",
		amount,
		reference: { period },
	};
}

/**
 * Stand-ins for every consumer queue the event producer sends to, recording each event once. Assign to an
 * object's event env (or pass as call() overrides) so the test sees what was emitted, and the real consumers
 * do not react to it.
 */
export function recordingQueues(): { bindings: Partial<Env>; events: Record<string, unknown>[] } {
	const events: Record<string, unknown>[] = [];
	const record = (body: unknown) => {
		const event = body as Record<string, unknown>;
		if (!events.some((seen) => seen.id === event.id)) events.push(event);
	};
	const queue = {
		async send(body: unknown) {
			record(body);
		},
		async sendBatch(messages: Iterable<{ body: unknown }>) {
			for (const message of messages) record(message.body);
		},
	} as unknown as Queue;
	return {
		bindings: Object.fromEntries(ROUTES.map((route) => [route.binding, queue])) as Partial<Env>,
		events,
	};
}
