import { z } from "zod";
import { Snapshot } from "./fields.ts";

/**
 * `sync.changes.applied`: one record a mobile client pushed (POST /v1/sync) was created, updated or deleted on
 * the server. One event per record, emitted through the transactional outbox in the push's own transaction,
 * so the audit trail holds exactly the changes that were committed. `project_id` lets consumers resolve the
 * record's nation, sector and serving region; `after` is the record as the server stored it.
 */
export const SyncChangesAppliedData = z.looseObject({
	table: z.enum(["bookmarks", "field_reports", "notification_settings"]),
	record_id: z.string().min(1),
	operation: z.enum(["created", "updated", "deleted"]),
	project_id: z.string().optional(),
	after: Snapshot.optional(),
});
export type SyncChangesAppliedData = z.infer<typeof SyncChangesAppliedData>;
