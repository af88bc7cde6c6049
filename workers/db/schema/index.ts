// Every Postgres table, one file each. drizzle-kit reads this module to generate migrations/.

export * from "./analytics.ts";
export * from "./api-keys.ts";
export * from "./audit.ts";
export * from "./bookmarks.ts";
export * from "./contributions.ts";
export * from "./dead-letters.ts";
export * from "./distributions.ts";
export * from "./event-outbox.ts";
export * from "./field-reports.ts";
export * from "./ledger.ts";
export * from "./nations.ts";
export * from "./notifications.ts";
export * from "./processed-events.ts";
export * from "./projects.ts";
export * from "./revocations.ts";
export * from "./sectors.ts";
export * from "./sync-tombstones.ts";
export * from "./users.ts";
export * from "./webhooks.ts";
