import { DurableObject } from "cloudflare:workers";

/**
 * One nation's ledger: strong consistency for that nation's money, SQLite storage, one instance per nation
 * (`idFromName(iso2)`). The schema is created once in blockConcurrencyWhile.
 */
export class NationLedger extends DurableObject<Env> {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.blockConcurrencyWhile(async () => {
			this.migrate();
		});
	}

	private migrate() {
		this.ctx.storage.sql.exec(
			`create table if not exists ledger_meta (key text primary key, value text not null)`,
		);
	}

	/** Liveness probe used by /v1/health: proves the object runs and its storage answers. */
	async ping(): Promise<{ ok: true }> {
		this.ctx.storage.sql.exec("select 1").toArray();
		return { ok: true };
	}
}
