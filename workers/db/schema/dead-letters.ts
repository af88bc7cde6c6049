import {
	index,
	integer,
	jsonb,
	pgTable,
	primaryKey,
	text,
	timestamp,
	unique,
	uuid,
} from "drizzle-orm/pg-core";

/**
 * The last error of every message a consumer failed to process, keyed by the queue message id (which the
 * platform keeps when it moves a message to the dead-letter queue): the dead-letter consumer reads the error
 * from here, since a dead-lettered message carries only its body.
 */
export const eventFailures = pgTable(
	"event_failures",
	{
		consumer: text("consumer").notNull(),
		messageId: text("message_id").notNull(),
		eventId: text("event_id"),
		attempts: integer("attempts").notNull(),
		error: text("error").notNull(),
		firstFailedAt: timestamp("first_failed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
		lastFailedAt: timestamp("last_failed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
	},
	(t) => [
		primaryKey({ columns: [t.consumer, t.messageId] }),
		index("event_failures_event_idx").on(t.consumer, t.eventId),
		index("event_failures_last_failed_idx").on(t.lastFailedAt),
	],
);

/** Messages that exhausted their retries, as the dead-letter consumer recorded them; re-drivable. */
export const deadLetters = pgTable(
	"dead_letters",
	{
		id: uuid("id").primaryKey().defaultRandom(),
		consumer: text("consumer").notNull(),
		/** The consumer queue the message failed on (re-drive sends it back there). */
		queue: text("queue").notNull(),
		messageId: text("message_id").notNull(),
		/** Null when the body was not a valid event. */
		eventId: text("event_id"),
		eventType: text("event_type"),
		/** The message body as received (JSON); a non-JSON body is kept as a JSON string. */
		body: jsonb("body").notNull(),
		/** The consumer's last error for this message, when it could record one. */
		error: text("error"),
		attempts: integer("attempts").notNull(),
		enqueuedAt: timestamp("enqueued_at", { withTimezone: true, mode: "date" }).notNull(),
		deadLetteredAt: timestamp("dead_lettered_at", { withTimezone: true, mode: "date" })
			.notNull()
			.defaultNow(),
		redrivenAt: timestamp("redriven_at", { withTimezone: true, mode: "date" }),
		redriveCount: integer("redrive_count").notNull().default(0),
	},
	(t) => [
		unique("dead_letters_message_unique").on(t.consumer, t.messageId),
		index("dead_letters_listing_idx").on(t.deadLetteredAt, t.id),
		index("dead_letters_consumer_idx").on(t.consumer, t.deadLetteredAt),
	],
);

export type DeadLetterRow = typeof deadLetters.$inferSelect;
