import { index, integer, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Events a consumer queue has not accepted yet: written by the producer when `send` still fails after its
 * retries, or by a consumer in the same transaction as the effect that caused the event (an anomaly alert).
 * The scheduled sweep re-sends due rows and deletes them once the queue accepts them.
 */
export const eventOutbox = pgTable(
	"event_outbox",
	{
		eventId: text("event_id").notNull(),
		/** The consumer (queues/routing.ts) whose queue still has to receive the event. */
		consumer: text("consumer").notNull(),
		/** The CloudEvent exactly as it will be sent. */
		event: jsonb("event").$type<Record<string, unknown>>().notNull(),
		attempts: integer("attempts").notNull().default(0),
		lastError: text("last_error"),
		createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
	},
	(t) => [
		primaryKey({ columns: [t.eventId, t.consumer] }),
		index("event_outbox_next_attempt_idx").on(t.nextAttemptAt),
	],
);

export type EventOutboxRow = typeof eventOutbox.$inferSelect;
