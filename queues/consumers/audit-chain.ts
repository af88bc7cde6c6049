import { asc, eq, gte } from "drizzle-orm";
import type { Database } from "../../workers/db/client.ts";
import { type AuditLogRow, auditChainHead, auditLog } from "../../workers/db/schema/audit.ts";
import { ApiError } from "../../workers/lib/problem.ts";
import type { Tx } from "../db.ts";

/** The hash before the first row. */
export const GENESIS_HASH = "0".repeat(64);

/** The columns a row's hash covers, in their canonical form. */
export interface AuditRecord {
	seq: number;
	eventId: string;
	occurredAt: Date;
	recordedAt: Date;
	actor: string;
	action: string;
	target: string | null;
	requestId: string | null;
	source: string;
	nation: string | null;
	sector: string | null;
	servingRegion: string | null;
	before: Record<string, unknown> | null;
	after: Record<string, unknown> | null;
	data: Record<string, unknown>;
}

/**
 * Canonical JSON (the JSON Canonicalization Scheme of RFC 8785 for the values the log holds): object members
 * sorted by key (UTF-16 code units), no whitespace, strings and numbers as ECMAScript's JSON.stringify writes
 * them, `undefined` members omitted. JSON that round-trips through Postgres jsonb encodes identically, which
 * is what lets the verifier recompute a hash from the stored row.
 */
export function canonicalJson(value: unknown): string {
	if (value === null) return "null";
	switch (typeof value) {
		case "string":
		case "boolean":
			return JSON.stringify(value);
		case "number":
			if (!Number.isFinite(value)) throw new Error("canonical JSON has no encoding for a non-finite number");
			return JSON.stringify(value);
		case "object": {
			if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(",")}]`;
			const record = value as Record<string, unknown>;
			const members = Object.keys(record)
				.filter((key) => record[key] !== undefined)
				.sort()
				.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
			return `{${members.join(",")}}`;
		}
		default:
			throw new Error(`canonical JSON has no encoding for a ${typeof value}`);
	}
}

/**
 * The canonical encoding of an audit row: canonical JSON of an object with these members (snake_case, as
 * the columns): seq, event_id, occurred_at, recorded_at (ISO 8601 UTC with milliseconds), actor, action,
 * target, request_id, source, nation, sector, serving_region, before, after, data (absent values as null).
 */
export function canonicalAuditRecord(record: AuditRecord): string {
	return canonicalJson({
		seq: record.seq,
		event_id: record.eventId,
		occurred_at: record.occurredAt.toISOString(),
		recorded_at: record.recordedAt.toISOString(),
		actor: record.actor,
		action: record.action,
		target: record.target,
		request_id: record.requestId,
		source: record.source,
		nation: record.nation,
		sector: record.sector,
		serving_region: record.servingRegion,
		before: record.before,
		after: record.after,
		data: record.data,
	});
}

const encoder = new TextEncoder();

/** hash(n) = lowercase hex of SHA-256( UTF-8( hash(n-1) as 64 hex chars ‖ canonical encoding of row n ) ). */
export async function chainHash(prevHash: string, record: AuditRecord): Promise<string> {
	const digest = await crypto.subtle.digest(
		"SHA-256",
		encoder.encode(prevHash + canonicalAuditRecord(record)),
	);
	return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export type ChainBreakReason = "sequence_gap" | "prev_hash_mismatch" | "hash_mismatch" | "head_mismatch";

export interface ChainBreak {
	seq: number;
	reason: ChainBreakReason;
	expected: string;
	found: string;
}

export interface ChainVerification {
	ok: boolean;
	/** Rows checked by this call. */
	checked: number;
	from_seq: number;
	/** The last row checked (from_seq - 1 when none was). */
	to_seq: number;
	/** True when the walk reached the chain head (and compared it). */
	complete: boolean;
	/** Where to continue when the walk stopped at the limit. */
	next_from_seq: number | null;
	head: { seq: number; hash: string };
	first_broken: ChainBreak | null;
}

const PAGE = 1000;

/**
 * Walks the chain from `fromSeq` (the link to row fromSeq-1 is taken from that row's stored hash) for at
 * most `limit` rows and reports the first broken link: a missing or reordered row (sequence_gap), a row whose
 * prev_hash is not its predecessor's hash (prev_hash_mismatch), a row whose content no longer matches its hash
 * (hash_mismatch: an edit), or a head that does not match the last row (head_mismatch: rows removed at the
 * end, or appended around the chain).
 */
export async function verifyChain(
	db: Database,
	options: { fromSeq?: number; limit?: number } = {},
): Promise<ChainVerification> {
	const fromSeq = Math.max(1, options.fromSeq ?? 1);
	const limit = options.limit ?? 1000;
	// One snapshot: an append commits its rows and the head together, so a concurrent append is either
	// wholly visible or not at all.
	return db.transaction((tx) => walk(tx, fromSeq, limit), {
		isolationLevel: "repeatable read",
		accessMode: "read only",
	});
}

async function walk(tx: Tx, fromSeq: number, limit: number): Promise<ChainVerification> {
	const [headRow] = await tx.select().from(auditChainHead).where(eq(auditChainHead.id, 1));
	const head = { seq: headRow?.seq ?? 0, hash: headRow?.hash ?? GENESIS_HASH };
	if (fromSeq > head.seq + 1) {
		throw new ApiError("invalid_request", `from_seq ${fromSeq} is past the chain head (row ${head.seq})`);
	}
	const result: ChainVerification = {
		ok: true,
		checked: 0,
		from_seq: fromSeq,
		to_seq: fromSeq - 1,
		complete: false,
		next_from_seq: null,
		head,
		first_broken: null,
	};
	const broken = (b: ChainBreak) => {
		result.ok = false;
		result.first_broken = b;
		return result;
	};

	let prevHash = GENESIS_HASH;
	if (fromSeq > 1) {
		const [previous] = await tx
			.select({ hash: auditLog.hash })
			.from(auditLog)
			.where(eq(auditLog.seq, fromSeq - 1));
		if (!previous) {
			return broken({
				seq: fromSeq - 1,
				reason: "sequence_gap",
				expected: `row ${fromSeq - 1}`,
				found: "no row",
			});
		}
		prevHash = previous.hash;
	}

	let expectedSeq = fromSeq;
	for (;;) {
		const want = Math.min(PAGE, limit - result.checked);
		if (want <= 0) break;
		const rows: AuditLogRow[] = await tx
			.select()
			.from(auditLog)
			.where(gte(auditLog.seq, expectedSeq))
			.orderBy(asc(auditLog.seq))
			.limit(want);
		for (const row of rows) {
			if (row.seq !== expectedSeq) {
				return broken({
					seq: expectedSeq,
					reason: "sequence_gap",
					expected: `row ${expectedSeq}`,
					found: `row ${row.seq}`,
				});
			}
			if (row.prevHash !== prevHash) {
				return broken({
					seq: row.seq,
					reason: "prev_hash_mismatch",
					expected: prevHash,
					found: row.prevHash,
				});
			}
			const recomputed = await chainHash(prevHash, row);
			if (recomputed !== row.hash) {
				return broken({ seq: row.seq, reason: "hash_mismatch", expected: recomputed, found: row.hash });
			}
			prevHash = row.hash;
			result.checked++;
			result.to_seq = row.seq;
			expectedSeq++;
		}
		if (rows.length < want) {
			// Past the last row: the head must point at it.
			result.complete = true;
			const lastSeq = expectedSeq - 1;
			if (lastSeq >= fromSeq - 1 && (head.seq !== lastSeq || head.hash !== prevHash)) {
				return broken({
					seq: Math.max(head.seq, lastSeq),
					reason: "head_mismatch",
					expected: `head at row ${lastSeq} (${prevHash})`,
					found: `head at row ${head.seq} (${head.hash})`,
				});
			}
			return result;
		}
	}
	result.next_from_seq = expectedSeq;
	return result;
}
