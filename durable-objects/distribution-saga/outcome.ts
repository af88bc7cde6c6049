import { sql } from "drizzle-orm";
import { createEventPublisher, type EventProducerEnv } from "../../queues/producer.ts";
import { withDb } from "../../workers/db/client.ts";
import type { DistributionView } from "../../workers/domain/fund/distribution.ts";

/**
 * Where a finished saga records its outcome: the distribution's row and its shares' postings in Postgres, then
 * (for a completed distribution) `covenant.payments.distributed`, whose id is the distribution id, so a retry
 * after any failure re-sends the same event and consumers keep one. Both halves are idempotent.
 */
export type OutcomeEnv = EventProducerEnv;

export async function recordOutcome(
	env: OutcomeEnv,
	view: DistributionView,
	status: "completed" | "stalled",
	completedAt: string,
): Promise<void> {
	await withDb(env, (db) =>
		db.transaction(async (tx) => {
			await tx.execute(
				sql`update distributions set status = ${status}, completed_at = ${status === "completed" ? completedAt : null}::timestamptz where id = ${view.id}`,
			);
			const rows = view.shares.map(
				(s) => sql`(${s.nation}, ${s.state}, ${s.ledger_sequence}::bigint, ${s.posted_at}::timestamptz)`,
			);
			if (rows.length === 0) return;
			await tx.execute(sql`
				update distribution_shares as s
				set state = v.state, ledger_sequence = v.ledger_sequence, posted_at = v.posted_at
				from (values ${sql.join(rows, sql`, `)}) as v(nation, state, ledger_sequence, posted_at)
				where s.distribution_id = ${view.id} and s.nation_iso2 = v.nation`);
		}),
	);
	if (status !== "completed") return;
	await createEventPublisher(env, { source: "covenant-edge/distributions" }).publish({
		type: "covenant.payments.distributed",
		id: view.id,
		subject: `distributions/${view.id}`,
		time: new Date(completedAt),
		data: {
			distribution_id: view.id,
			amount_cents: view.amount_cents,
			project_id: view.project.id,
			sector: view.project.sector,
			nation: view.project.nation,
			serving_region: view.project.serving_region,
			recipients: view.progress.recipients,
			period: view.period,
		},
	});
}
