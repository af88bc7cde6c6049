import { type LedgerNation, LOCATION_HINTS } from "../../workers/domain/ledger/nations.ts";
import type { NationLedger } from "./object.ts";

export type { LedgerWriteResult, WriteOptions } from "./object.ts";

/** The small client the worker talks to: a typed stub for one nation's ledger. */
export function nationLedgerClient(
	env: Pick<Env, "NATION_LEDGER">,
	iso2: string,
	locationHint?: DurableObjectLocationHint,
) {
	const id = env.NATION_LEDGER.idFromName(iso2);
	return env.NATION_LEDGER.get(
		id,
		locationHint ? { locationHint } : undefined,
	) as DurableObjectStub<NationLedger>;
}

/**
 * The ledger of a nation, created (on first use) near the nation's home serving region. Its RPC methods are the
 * ledger's API: transfer, batch, post, void, reverse, balances, head, getTransfer, entries.
 */
export function ledgerOf(env: Pick<Env, "NATION_LEDGER">, nation: LedgerNation) {
	return nationLedgerClient(env, nation.iso2, LOCATION_HINTS[nation.serving_region]);
}
