import { index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The event ids each queue consumer has applied. A consumer inserts here in the same transaction as its
 * effect and applies the effect only when the insert added a row, so a redelivered or duplicated message
 * changes nothing. Rows older than the longest redelivery horizon are pruned by the daily sweep.
 */
export const processedEvents = pgTable(
	"processed_events",
	{
		consumer: text("consumer").notNull(),
		eventId: text("event_id").notNull(),
		processedAt: timestamp("processed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
	},
	(t) => [
		primaryKey({ columns: [t.consumer, t.eventId] }),
		index("processed_events_processed_at_idx").on(t.processedAt),
	],
);
