import { sql } from "drizzle-orm";
import { auditLog } from "../../workers/db/schema/audit.ts";
import type { Tx } from "../db.ts";
import type { CloudEvent } from "../envelope.ts";
import { SECTOR_SLUGS, sectorOfType } from "../events/types.ts";
import { SERVING_REGIONS } from "../../workers/domain/serving-regions.ts";
import { type AuditRecord, chainHash, GENESIS_HASH } from "./audit-chain.ts";
import type { EventConsumer } from "./runner.ts";

/**
 * The audit consumer: appends every event to the hash-chained `audit_log`. Appends are serialised on the
 * chain head row (its row lock is held until commit), so two batches can never both extend the same head.
 */
export const auditConsumer: EventConsumer = {
	name: "audit",
	async apply(tx, events, { now }) {
		const head = await lockChainHead(tx);
		let seq = head.seq;
		let prevHash = head.hash;
		const rows: (AuditRecord & { prevHash: string; hash: string })[] = [];
		// Within a batch, in the order the events happened (across batches the log is in arrival order).
		const ordered = [...events].sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
		for (const event of ordered) {
			seq++;
			const record = auditRecordOf(event, seq, now);
			const hash = await chainHash(prevHash, record);
			rows.push({ ...record, prevHash, hash });
			prevHash = hash;
		}
		// One round trip: the rows and the head move together (a data-modifying CTE always runs in full).
		await tx.execute(sql`
			with appended as ${tx.insert(auditLog).values(rows).returning({ seq: auditLog.seq })}
			update audit_chain_head set seq = ${seq}, hash = ${prevHash}, updated_at = now() where id = 1`);
		return undefined;
	},
};

/** Takes the chain head's row lock for this transaction and returns it (creating it on an empty database). */
async function lockChainHead(tx: Tx): Promise<{ seq: number; hash: string }> {
	const result = await tx.execute<{ seq: string | number; hash: string }>(sql`
		insert into audit_chain_head (id, seq, hash) values (1, 0, ${GENESIS_HASH})
		on conflict (id) do update set updated_at = now()
		returning seq, hash`);
	const row = result.rows[0];
	if (!row) throw new Error("audit chain head could not be locked");
	return { seq: Number(row.seq), hash: row.hash };
}

const objectOrNull = (value: unknown): Record<string, unknown> | null =>
	value !== null && typeof value === "object" && !Array.isArray(value)
		? (value as Record<string, unknown>)
		: null;

/** The value when it has the attribute's shape; the log never stores a malformed scope attribute. */
const matching = (value: unknown, pattern: RegExp): string | null =>
	typeof value === "string" && pattern.test(value) ? value : null;

const SECTOR_PATTERN = new RegExp(`^(${SECTOR_SLUGS.join("|")})$`);
const REGION_PATTERN = new RegExp(`^(${SERVING_REGIONS.join("|")})$`);

export function auditRecordOf(event: CloudEvent, seq: number, recordedAt: Date): AuditRecord {
	const data = event.data;
	return {
		seq,
		eventId: event.id,
		// Millisecond precision: what a JavaScript Date and the canonical encoding carry.
		occurredAt: new Date(event.time),
		recordedAt,
		actor: event.actor ?? "system",
		action: event.type,
		target: event.subject ?? null,
		requestId: event.requestid ?? null,
		source: event.source,
		nation: matching(data.nation, /^[A-Z]{2}$/),
		sector: matching(data.sector, SECTOR_PATTERN) ?? sectorOfType(event.type) ?? null,
		servingRegion: matching(data.serving_region, REGION_PATTERN),
		before: objectOrNull(data.before),
		after: objectOrNull(data.after),
		data,
	};
}
