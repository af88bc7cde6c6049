import { sql } from "drizzle-orm";
import type { Executor } from "../../queues/db.ts";
import { textArray } from "../../queues/db.ts";
import type { CloudEvent } from "../../queues/envelope.ts";
import { webhookMessages } from "../db/schema/webhooks.ts";
import type { DeliveryJob } from "./delivery-job.ts";
import { isOwnerEvent, ownerMaySee, type ScopeFilter, scopeFilterMatches, typeMatches } from "./filters.ts";
import { resolveTargets } from "./target.ts";

/**
 * The body partners receive, per the Standard Webhooks payload shape: `type`, `timestamp` and `data`, plus the
 * event `id` (also in the `webhook-id` header) and its `subject`. Serialised once and stored, so every attempt
 * sends identical bytes.
 */
export function messageBody(
	event: Pick<CloudEvent, "id" | "time" | "subject" | "data"> & { type: string },
): string {
	return JSON.stringify({
		id: event.id,
		type: event.type,
		timestamp: event.time,
		...(event.subject ? { subject: event.subject } : {}),
		data: event.data,
	});
}

type CandidateEndpoint = {
	id: string;
	owner: string;
	owner_scope: string;
	event_types: string[];
	scope: ScopeFilter | null;
};

/**
 * Fan-out: one message per (event, matching endpoint), inserted in the caller's transaction. An endpoint
 * matches when it is enabled, one of its type filters matches, its scope filter lets the event's target
 * through, and its owner may see that target (`webhooks.*` events go only to the endpoints of the partner
 * they are about). The (event, endpoint) pair is unique, so fanning out an event twice adds nothing.
 * Returns the jobs to put on the deliveries queue once the transaction has committed.
 */
export async function fanOut(tx: Executor, events: readonly CloudEvent[], now: Date): Promise<DeliveryJob[]> {
	const targets = await resolveTargets(tx, events);
	const byType = new Map<string, CandidateEndpoint[]>();
	const rows: (typeof webhookMessages.$inferInsert)[] = [];
	for (const event of events) {
		let candidates = byType.get(event.type);
		if (!candidates) {
			candidates = await endpointsForType(tx, event.type);
			byType.set(event.type, candidates);
		}
		const target = targets.get(event.id) ?? {};
		const ownEvent = isOwnerEvent(event.type);
		const body = messageBody(event);
		for (const endpoint of candidates) {
			if (!typeMatches(endpoint.event_types, event.type)) continue;
			if (ownEvent) {
				if (event.data.owner !== endpoint.owner) continue;
			} else if (!scopeFilterMatches(endpoint.scope, target) || !ownerMaySee(endpoint.owner_scope, target)) {
				continue;
			}
			rows.push({
				endpointId: endpoint.id,
				eventId: event.id,
				eventType: event.type,
				body,
				targetNation: target.nation ?? null,
				targetSector: target.sector ?? null,
				targetRegion: target.region ?? null,
				status: "pending",
				cycleTrigger: "event",
				nextAttemptAt: now,
				dispatchId: crypto.randomUUID(),
				createdAt: now,
				updatedAt: now,
			});
		}
	}
	const jobs: DeliveryJob[] = [];
	// Multi-row inserts stay well under Postgres' 65,535 parameters per statement.
	for (let i = 0; i < rows.length; i += 500) {
		const inserted = await tx
			.insert(webhookMessages)
			.values(rows.slice(i, i + 500))
			.onConflictDoNothing()
			.returning({ id: webhookMessages.id, dispatchId: webhookMessages.dispatchId });
		for (const row of inserted) jobs.push({ message_id: row.id, dispatch_id: row.dispatchId });
	}
	return jobs;
}

/** Enabled endpoints with a type filter matching `type` (exact, `prefix.*` or `*`); refined in code. */
async function endpointsForType(tx: Executor, type: string): Promise<CandidateEndpoint[]> {
	const result = await tx.execute<CandidateEndpoint>(sql`
		select id, owner, owner_scope, event_types, scope
		from webhook_endpoints e
		where e.enabled
			and exists (
				select 1 from unnest(e.event_types) as f(filter)
				where f.filter = ${type}
					or f.filter = '*'
					or (right(f.filter, 2) = '.*' and starts_with(${type}, left(f.filter, -1)))
			)`);
	return result.rows;
}

/** Ids of messages of these events still waiting for their first attempt (for re-dispatch after a crash). */
export async function undispatchedJobs(tx: Executor, eventIds: readonly string[]): Promise<DeliveryJob[]> {
	if (eventIds.length === 0) return [];
	const result = await tx.execute<{ id: string; dispatch_id: string }>(sql`
		select id, dispatch_id from webhook_messages
		where event_id = any(${textArray(eventIds)}) and status = 'pending' and attempts = 0 and lease_until is null`);
	return result.rows.map((r) => ({ message_id: r.id, dispatch_id: r.dispatch_id }));
}
