import { z } from "@hono/zod-openapi";
import { inArray, sql } from "drizzle-orm";
import { type CloudEvent, CloudEventSchema } from "../../../../queues/envelope.ts";
import { routeOf } from "../../../../queues/routing.ts";
import { sendWithRetry } from "../../../../queues/send.ts";
import type { Database } from "../../../db/client.ts";
import { type DeadLetterRow, deadLetters } from "../../../db/schema/dead-letters.ts";
import { ApiError } from "../../../lib/problem.ts";

export const DeadLetterSchema = z
	.object({
		id: z.string().uuid(),
		consumer: z.string(),
		queue: z.string().openapi({ description: "The queue the message failed on; a re-drive sends it there" }),
		message_id: z.string(),
		event_id: z.string().nullable().openapi({ description: "null when the body was not a valid event" }),
		event_type: z.string().nullable(),
		body: z.unknown().openapi({ description: "The message body as received" }),
		error: z.string().nullable().openapi({ description: "The consumer's last error for it, when recorded" }),
		attempts: z.number().int(),
		enqueued_at: z.string(),
		dead_lettered_at: z.string(),
		redriven_at: z.string().nullable(),
		redrive_count: z.number().int(),
	})
	.openapi("DeadLetter");
export type DeadLetterResponse = z.infer<typeof DeadLetterSchema>;

export function presentDeadLetter(row: DeadLetterRow): DeadLetterResponse {
	return {
		id: row.id,
		consumer: row.consumer,
		queue: row.queue,
		message_id: row.messageId,
		event_id: row.eventId,
		event_type: row.eventType,
		body: row.body,
		error: row.error,
		attempts: row.attempts,
		enqueued_at: row.enqueuedAt.toISOString(),
		dead_lettered_at: row.deadLetteredAt.toISOString(),
		redriven_at: row.redrivenAt?.toISOString() ?? null,
		redrive_count: row.redriveCount,
	};
}

/**
 * Sends dead letters back to their consumer's queue and marks them re-driven, in one transaction that locks
 * the rows (SKIP LOCKED: rows another operator is re-driving right now are left to them). Only valid events
 * are sent (a body that is not one would only fail again); the consumer deduplicates on the event id, so
 * re-driving an event that was meanwhile applied changes nothing. If a queue refuses, nothing is marked.
 */
export async function redrive(
	env: Env,
	db: Database,
	ids: string[],
): Promise<{ redriven: DeadLetterRow[]; refused: { id: string; reason: string }[]; busy: string[] }> {
	return db.transaction(async (tx) => {
		const rows = await tx
			.select()
			.from(deadLetters)
			.where(inArray(deadLetters.id, ids))
			.for("update", { skipLocked: true });
		const locked = new Set(rows.map((r) => r.id));
		const busy = ids.filter((id) => !locked.has(id));
		const refused: { id: string; reason: string }[] = [];
		const sendable = new Map<string, { row: DeadLetterRow; event: CloudEvent }[]>();
		for (const row of rows) {
			const route = routeOf(row.consumer);
			if (!route) {
				refused.push({ id: row.id, reason: `no consumer named ${row.consumer} any more` });
				continue;
			}
			const parsed = CloudEventSchema.safeParse(row.body);
			if (!parsed.success) {
				refused.push({ id: row.id, reason: "the body is not a valid event; it would fail again" });
				continue;
			}
			const list = sendable.get(route.consumer) ?? [];
			list.push({ row, event: parsed.data });
			sendable.set(route.consumer, list);
		}
		const redriven: DeadLetterRow[] = [];
		for (const [consumer, items] of sendable) {
			const route = routeOf(consumer);
			if (!route) continue;
			const unsent = await sendWithRetry(
				env[route.binding],
				items.map((i) => i.event),
			);
			if (unsent) {
				throw new ApiError(
					"unavailable",
					`The ${route.queue} queue refused the messages; nothing was marked, retry shortly`,
					{
						headers: { "retry-after": "5" },
					},
				);
			}
			const updated = await tx
				.update(deadLetters)
				.set({ redrivenAt: sql`now()`, redriveCount: sql`${deadLetters.redriveCount} + 1` })
				.where(
					inArray(
						deadLetters.id,
						items.map((i) => i.row.id),
					),
				)
				.returning();
			redriven.push(...updated);
		}
		return { redriven, refused, busy };
	});
}
