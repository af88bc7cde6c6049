import { env, runInDurableObject } from "cloudflare:test";
import { inArray } from "drizzle-orm";
import { ledgerOf } from "../../durable-objects/nation-ledger/client.ts";
import type { NationLedger } from "../../durable-objects/nation-ledger/object.ts";
import type { ProjectionDatabase } from "../../durable-objects/nation-ledger/projection.ts";
import { withDb } from "../../workers/db/client.ts";
import { ledgerEntries, ledgerProjectionState } from "../../workers/db/schema/ledger.ts";
import { nationByCode } from "../../workers/domain/ledger/nations.ts";

/**
 * Helpers for the ledger tests. Every test that writes to a ledger uses a nation of its own: Postgres is shared
 * by every test file of the run, and each nation's projection rows are keyed on (nation, sequence).
 */
export function ledger(iso2: string) {
	const nation = nationByCode(iso2);
	if (!nation) throw new Error(`no nation ${iso2}`);
	return ledgerOf(env, nation);
}

/**
 * Runs the ledger's alarm handler until its outbox is empty, whether or not an alarm is scheduled (the scheduled
 * one may fire on its own meanwhile: draining twice is harmless, which is the point of the outbox).
 */
export async function drain(iso2: string, rounds = 20): Promise<void> {
	const stub = ledger(iso2);
	let projection: unknown;
	for (let i = 0; i < rounds; i++) {
		await runInDurableObject(stub, (instance: NationLedger) => instance.alarm());
		const view = await stub.balances();
		if (view.projection.lag_entries === 0) return;
		projection = view.projection;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	throw new Error(`${iso2}'s outbox did not drain in ${rounds} alarms: ${JSON.stringify(projection)}`);
}

/**
 * Moves the ledger's projection watermark back to `sequence`, as a crash between a drain's Postgres commit and the
 * watermark's move would leave it: every entry after it is drained again.
 */
export async function rewindProjection(stub: ReturnType<typeof ledger>, sequence: number): Promise<void> {
	await runInDurableObject(stub, (_instance: NationLedger, state) => {
		state.storage.sql.exec(
			"update ledger_meta set value = ? where key = 'projected_sequence'",
			String(sequence),
		);
	});
}

/** Points the ledger's outbox drain at another database (a stopped one simulates an outage). */
export async function setProjectionDatabase(iso2: string, database: ProjectionDatabase): Promise<void> {
	await runInDurableObject(ledger(iso2), (instance: NationLedger) => {
		instance.projectionDatabase = database;
	});
}

export const STOPPED_PROJECTION: ProjectionDatabase = {
	DATABASE_URL: "postgres://postgres@127.0.0.1:1/postgres",
	NEON_WS_PROXY: env.NEON_WS_PROXY,
};
export const LIVE_PROJECTION: ProjectionDatabase = {
	DATABASE_URL: env.DATABASE_URL,
	NEON_WS_PROXY: env.NEON_WS_PROXY,
};

export async function projectedEntries(iso2: string) {
	return withDb(env, (db) =>
		db.query.ledgerEntries.findMany({
			where: (t, { eq }) => eq(t.nationIso2, iso2),
			orderBy: (t, { asc }) => asc(t.sequence),
		}),
	);
}

export async function deleteProjection(nations: string[]): Promise<void> {
	await withDb(env, async (db) => {
		await db.delete(ledgerEntries).where(inArray(ledgerEntries.nationIso2, nations));
		await db.delete(ledgerProjectionState).where(inArray(ledgerProjectionState.nationIso2, nations));
	});
}

let counter = 0;
/** A fresh idempotency key. */
export function key(label = "k"): string {
	counter += 1;
	return `${label}-${counter}-${crypto.randomUUID()}`;
}
