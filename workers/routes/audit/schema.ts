import { z } from "@hono/zod-openapi";
import type { AuditLogRow } from "../../db/schema/audit.ts";

export const AuditEntrySchema = z
	.object({
		seq: z.number().int().openapi({ description: "Position in the hash chain (1-based, gapless)" }),
		event_id: z.string(),
		occurred_at: z.string().openapi({ description: "When the action happened (the event's time)" }),
		recorded_at: z.string().openapi({ description: "When the audit consumer appended it" }),
		actor: z.string().openapi({ description: "Who: the principal id, or `system`" }),
		action: z.string().openapi({ description: "What: the event type", example: "covenant.projects.updated" }),
		target: z
			.string()
			.nullable()
			.openapi({ description: "On what: the event subject", example: "projects/…" }),
		request_id: z.string().nullable(),
		source: z.string(),
		nation: z.string().nullable(),
		sector: z.string().nullable(),
		serving_region: z.string().nullable(),
		before: z.record(z.string(), z.unknown()).nullable(),
		after: z.record(z.string(), z.unknown()).nullable(),
		data: z.record(z.string(), z.unknown()),
		prev_hash: z.string(),
		hash: z.string().openapi({ description: "SHA-256 over prev_hash and this row's canonical encoding" }),
	})
	.openapi("AuditEntry");
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

export function presentAuditEntry(row: AuditLogRow): AuditEntry {
	return {
		seq: row.seq,
		event_id: row.eventId,
		occurred_at: row.occurredAt.toISOString(),
		recorded_at: row.recordedAt.toISOString(),
		actor: row.actor,
		action: row.action,
		target: row.target,
		request_id: row.requestId,
		source: row.source,
		nation: row.nation,
		sector: row.sector,
		serving_region: row.servingRegion,
		before: row.before,
		after: row.after,
		data: row.data,
		prev_hash: row.prevHash,
		hash: row.hash,
	};
}
