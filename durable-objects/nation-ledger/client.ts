import type { NationLedger } from "./object.ts";

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
