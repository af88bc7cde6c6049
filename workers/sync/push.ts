import { sql } from "drizzle-orm";
import type { Principal } from "../auth/principal.ts";
import type { Database } from "../db/client.ts";
import { ApiError, type ProblemIssue } from "../lib/problem.ts";
import {
	type OwnedTable,
	type PushedRecord,
	SYNC_TABLE_NAMES,
	SYNC_TABLES,
	type SyncTableName,
	type WriteContext,
} from "./tables.ts";

/** The most records (created + updated + deleted, all tables) one push may carry. */
export const MAX_PUSH_RECORDS = 1000;

export type Operation = "created" | "updated" | "deleted";

export interface TableChangeSet<R> {
	created: R[];
	updated: R[];
	deleted: string[];
}

export interface PushInput {
	lastPulledAt: number;
	/** Validated by the route: known tables only; records of owned tables already parsed by their schema. */
	changes: Partial<Record<SyncTableName, TableChangeSet<unknown>>>;
}

export interface AppliedChange {
	table: SyncTableName;
	id: string;
	operation: Operation;
}

export interface PushResult {
	applied: AppliedChange[];
}

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

interface TablePush {
	table: OwnedTable;
	created: PushedRecord[];
	updated: PushedRecord[];
	deleted: string[];
}

/**
 * Applies a client's changes in one transaction, or nothing at all.
 *
 * Refused as a whole, in this order: a read-only table with changes or a record of another user (403), a
 * record naming a project the principal cannot see (422) or cannot sync against (403), any record changed on
 * the server after `lastPulledAt` (409: the client pulls, resolves, and pushes again). Rows are locked
 * (`FOR UPDATE`) before they are checked, and every write re-checks "not changed since lastPulledAt", so a
 * concurrent push of the same record can never be overwritten unseen. A created record that already exists is
 * updated; an update of a record that never existed creates it; a delete of an unknown id is ignored.
 *
 * `beforeCommit` runs inside the transaction with the applied changes (the audit events go to the outbox
 * there, so they exist exactly when the changes do).
 */
export async function pushChanges(
	db: Database,
	principal: Principal,
	input: PushInput,
	beforeCommit: (tx: Tx, applied: AppliedChange[]) => Promise<void>,
): Promise<PushResult> {
	if (principal.kind !== "user") {
		throw new ApiError("forbidden", "Mobile sync pushes a person's own records; API keys cannot push");
	}
	const pushes = planPushes(input);
	return db.transaction(async (tx) => {
		const nowMs = await databaseNow(tx);
		if (input.lastPulledAt > nowMs) {
			throw new ApiError(
				"invalid_request",
				`last_pulled_at ${input.lastPulledAt} is in the future (the server's clock reads ${nowMs}); push with the timestamp of your last pull`,
			);
		}
		const checked = [];
		for (const push of pushes) checked.push(await lockAndCheck(tx, principal, push, input.lastPulledAt));
		const forbidden = checked.flatMap((c) => c.forbidden);
		if (forbidden.length > 0) {
			throw new ApiError(
				"forbidden",
				`The push changes records that belong to someone else (${describe(forbidden)}); nothing was applied`,
				{ extensions: { records: forbidden } },
			);
		}
		await checkProjectReferences(tx, principal, checked);
		const conflicts = checked.flatMap((c) => c.conflicts);
		if (conflicts.length > 0) throw conflictError(conflicts);

		const applied: AppliedChange[] = [];
		const context: WriteContext = { nowMs };
		for (const check of checked) {
			applied.push(...(await upsert(tx, principal, check, input.lastPulledAt, context)));
			applied.push(...(await remove(tx, principal, check)));
		}
		await beforeCommit(tx, applied);
		return { applied };
	});
}

/** Splits the validated changes per owned table; refuses changes to read-only tables and oversize pushes. */
function planPushes(input: PushInput): TablePush[] {
	let count = 0;
	const readOnly: string[] = [];
	const duplicates: ProblemIssue[] = [];
	const pushes: TablePush[] = [];
	for (const name of SYNC_TABLE_NAMES) {
		const changes = input.changes[name];
		if (!changes) continue;
		const size = changes.created.length + changes.updated.length + changes.deleted.length;
		count += size;
		const seen = new Set<string>();
		for (const list of ["created", "updated", "deleted"] as const) {
			changes[list].forEach((entry, index) => {
				const id = typeof entry === "string" ? entry : (entry as { id?: unknown }).id;
				if (typeof id !== "string") return;
				if (seen.has(id)) {
					duplicates.push({
						path: ["changes", name, list, index],
						message: `${name}/${id} appears more than once in this push`,
						code: "duplicate_id",
					});
				}
				seen.add(id);
			});
		}
		const table = SYNC_TABLES[name];
		if (table.kind === "reference") {
			if (size > 0) readOnly.push(name);
			continue;
		}
		pushes.push({
			table,
			created: changes.created as PushedRecord[],
			updated: changes.updated as PushedRecord[],
			deleted: changes.deleted,
		});
	}
	if (count > MAX_PUSH_RECORDS) {
		throw new ApiError(
			"payload_too_large",
			`A push may carry at most ${MAX_PUSH_RECORDS} records; this one has ${count}. Push in smaller batches (each batch is checked against the same last_pulled_at)`,
			{ extensions: { max_records: MAX_PUSH_RECORDS, records: count } },
		);
	}
	if (duplicates.length > 0) {
		throw new ApiError("invalid_request", "A record may appear only once per push; nothing was applied", {
			errors: duplicates,
		});
	}
	if (readOnly.length > 0) {
		throw new ApiError(
			"forbidden",
			`${readOnly.join(", ")} ${readOnly.length === 1 ? "is" : "are"} read-only to clients; nothing was applied`,
			{ extensions: { read_only_tables: readOnly } },
		);
	}
	return pushes;
}

async function databaseNow(tx: Tx): Promise<number> {
	const result = await tx.execute<{ now_ms: number }>(
		sql`select floor(extract(epoch from clock_timestamp()) * 1000)::float8 as now_ms`,
	);
	return Number(result.rows[0]?.now_ms);
}

interface RecordRef {
	table: SyncTableName;
	id: string;
}

interface CheckedPush extends TablePush {
	/** Postgres key per record id (the id itself, or the owner for a one-per-user table). */
	keyOf: Map<string, string>;
	/** The rows that exist now (locked), by record id. */
	existing: Map<string, { projectId: string | null }>;
	forbidden: RecordRef[];
	conflicts: (RecordRef & { reason: "changed" | "deleted" })[];
}

/**
 * Locks the rows the push touches and finds the records that are someone else's, and those changed (or
 * deleted) on the server after lastPulledAt.
 */
async function lockAndCheck(
	tx: Tx,
	principal: Principal,
	push: TablePush,
	lastPulledAt: number,
): Promise<CheckedPush> {
	const { table } = push;
	const keyOf = new Map<string, string>();
	const forbidden: RecordRef[] = [];
	const ids = [...push.created, ...push.updated].map((r) => r.id).concat(push.deleted);
	if (table.singleton) {
		const own = await table.singleton.idFor(principal.id);
		for (const id of ids) {
			if (id === own) keyOf.set(id, principal.id);
			// Deleting an id that is not yours is ignored like any unknown id; writing one is refused.
			else if (!push.deleted.includes(id)) forbidden.push({ table: table.name, id });
		}
	} else {
		for (const id of ids) keyOf.set(id, id);
	}
	const keys = [...new Set(keyOf.values())];
	const existing = new Map<string, { projectId: string | null }>();
	const conflicts: CheckedPush["conflicts"] = [];
	if (keys.length === 0) return { ...push, keyOf, existing, forbidden, conflicts };

	const projectColumn = table.projectRef ? sql.raw(`r.${table.projectRef}::text`) : sql`null`;
	const rows = await tx.execute<{
		key: string;
		owner: string;
		changed_ms: number;
		project_id: string | null;
	}>(sql`
		select ${sql.raw(`r.${table.key}`)} as key, ${sql.raw(`r.${table.owner}`)} as owner,
			r.sync_changed_ms::float8 as changed_ms, ${projectColumn} as project_id
		from ${sql.raw(table.source)} r
		where ${sql.raw(`r.${table.key}`)} = any(${sql.param(keys)}::text[])
		for update`);
	const byKey = new Map(rows.rows.map((row) => [row.key, row]));
	for (const [id, key] of keyOf) {
		const row = byKey.get(key);
		if (!row) continue;
		if (row.owner !== principal.id) forbidden.push({ table: table.name, id });
		else {
			existing.set(id, { projectId: row.project_id });
			if (Number(row.changed_ms) > lastPulledAt) conflicts.push({ table: table.name, id, reason: "changed" });
		}
	}
	// A record the client writes that was deleted on the server since its last pull: the client must learn of
	// the deletion first (its pull will delete the record locally, which wins).
	const missing = [...push.created, ...push.updated]
		.map((r) => r.id)
		.filter((id) => keyOf.has(id) && !byKey.has(keyOf.get(id) as string));
	if (missing.length > 0) {
		const deleted = await tx.execute<{ row_id: string }>(sql`
			select distinct t.row_id from sync_tombstones t
			where t.table_name = ${table.name} and t.reason = 'deleted' and t.owner_id = ${principal.id}
				and t.changed_ms > ${lastPulledAt}
				and t.row_id = any(${sql.param(missing.map((id) => keyOf.get(id) as string))}::text[])`);
		const deletedKeys = new Set(deleted.rows.map((r) => r.row_id));
		for (const id of missing) {
			if (deletedKeys.has(keyOf.get(id) as string))
				conflicts.push({ table: table.name, id, reason: "deleted" });
		}
	}
	return { ...push, keyOf, existing, forbidden, conflicts };
}

/**
 * Every project a created or updated record newly points at must be one the principal can see (else 422, as
 * if it did not exist) and may sync against (else 403). A record keeping the project it already had is not
 * re-checked: a principal whose scopes narrowed can still edit its own old reports.
 */
async function checkProjectReferences(tx: Tx, principal: Principal, checked: CheckedPush[]): Promise<void> {
	const references: {
		table: SyncTableName;
		list: "created" | "updated";
		index: number;
		id: string;
		project: string;
	}[] = [];
	for (const push of checked) {
		const column = push.table.projectRef;
		if (!column) continue;
		for (const list of ["created", "updated"] as const) {
			push[list].forEach((record, index) => {
				const project = record[column] as string;
				if (push.existing.get(record.id)?.projectId === project) return;
				references.push({ table: push.table.name, list, index, id: record.id, project });
			});
		}
	}
	if (references.length === 0) return;
	const projects = await tx.execute<{
		id: string;
		nation_iso2: string;
		sector: string;
		serving_region: string;
	}>(sql`
		select id::text as id, nation_iso2, sector, serving_region from projects
		where id = any(${sql.param([...new Set(references.map((r) => r.project))])}::uuid[])`);
	const byId = new Map(projects.rows.map((p) => [p.id, p]));
	const unknown: ProblemIssue[] = [];
	const notAllowed: RecordRef[] = [];
	for (const reference of references) {
		const project = byId.get(reference.project);
		const target = project && {
			nation: project.nation_iso2,
			sector: project.sector,
			region: project.serving_region,
		};
		if (!target || !principal.can("projects:read", target)) {
			unknown.push({
				path: ["changes", reference.table, reference.list, reference.index, "project_id"],
				message: `No project ${reference.project} is visible to you`,
				code: "unknown_project",
			});
		} else if (!principal.can("sync:write", target)) {
			notAllowed.push({ table: reference.table, id: reference.id });
		}
	}
	if (unknown.length > 0) {
		throw new ApiError(
			"unprocessable",
			`${unknown.length} record(s) name a project you cannot see; nothing was applied`,
			{ errors: unknown },
		);
	}
	if (notAllowed.length > 0) {
		throw new ApiError(
			"forbidden",
			`Your scopes do not allow sync:write on the projects of ${describe(notAllowed)}; nothing was applied`,
			{ extensions: { records: notAllowed } },
		);
	}
}

function conflictError(conflicts: CheckedPush["conflicts"]): ApiError {
	return new ApiError(
		"conflict",
		`${conflicts.length} record(s) changed on the server after last_pulled_at (${describe(conflicts)}); pull, then push again. Nothing was applied`,
		{ extensions: { conflicts } },
	);
}

function describe(records: RecordRef[]): string {
	const shown = records.slice(0, 5).map((r) => `${r.table}/${r.id}`);
	return records.length > 5 ? `${shown.join(", ")} and ${records.length - 5} more` : shown.join(", ");
}

/**
 * Creates and updates as one `insert ... on conflict do update` per table. The update only happens when the
 * row is still the principal's and unchanged since lastPulledAt; a row that escaped the locks (created by a
 * concurrent push after them) therefore comes back missing, and the push is refused as a conflict.
 */
async function upsert(
	tx: Tx,
	principal: Principal,
	push: CheckedPush,
	lastPulledAt: number,
	context: WriteContext,
): Promise<AppliedChange[]> {
	const { table } = push;
	const records = [...push.created, ...push.updated];
	if (records.length === 0) return [];
	const rows = records.map((record) => {
		const row: Record<string, unknown> = { key: push.keyOf.get(record.id) };
		for (const write of table.writes) row[write.column] = write.value(record, context);
		return row;
	});
	const columns = table.writes.map((w) => w.column);
	const definitions = ["key text", ...table.writes.map((w) => `${w.column} ${w.type}`)].join(", ");
	const assignments = [
		...columns.map((c) => `${c} = excluded.${c}`),
		...(table.onUpdate ? [table.onUpdate] : []),
	];
	const keyIsOwner = table.key === table.owner;
	// sync_origin_ms is written on insert only: the row's first push (see newToClient in pull.ts).
	const insertColumns = [table.key, ...(keyIsOwner ? [] : [table.owner]), ...columns, "sync_origin_ms"];
	const selectList = sql.join(
		[
			sql.raw("x.key"),
			...(keyIsOwner ? [] : [sql`${principal.id}`]),
			...columns.map((c) => sql.raw(`x.${c}`)),
			sql`${lastPulledAt}::bigint`,
		],
		sql`, `,
	);
	const result = await tx.execute<{ key: string; inserted: boolean }>(sql`
		insert into ${sql.raw(table.source)} as r (${sql.raw(insertColumns.join(", "))})
		select ${selectList} from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(${sql.raw(definitions)})
		on conflict (${sql.raw(table.key)}) do update set ${sql.raw(assignments.join(", "))}
		where ${sql.raw(`r.${table.owner}`)} = ${principal.id} and r.sync_changed_ms <= ${lastPulledAt}
		returning ${sql.raw(`r.${table.key}`)} as key, (r.xmax = 0) as inserted`);
	const byKey = new Map(result.rows.map((row) => [row.key, row.inserted]));
	const escaped = records.filter((r) => !byKey.has(push.keyOf.get(r.id) as string));
	if (escaped.length > 0) {
		throw conflictError(escaped.map((r) => ({ table: table.name, id: r.id, reason: "changed" as const })));
	}
	return records.map((record) => ({
		table: table.name,
		id: record.id,
		operation: byKey.get(push.keyOf.get(record.id) as string) ? "created" : "updated",
	}));
}

/** Deletes (or resets) the principal's rows; ids it does not have are ignored. */
async function remove(tx: Tx, principal: Principal, push: CheckedPush): Promise<AppliedChange[]> {
	const { table } = push;
	const ids = push.deleted.filter((id) => push.existing.has(id));
	if (ids.length === 0) return [];
	const keys = sql`${sql.param(ids.map((id) => push.keyOf.get(id) as string))}::text[]`;
	const owner = sql.raw(`r.${table.owner}`);
	const key = sql.raw(`r.${table.key}`);
	const result =
		table.onDelete.kind === "delete"
			? await tx.execute<{ key: string }>(sql`
				delete from ${sql.raw(table.source)} r where ${owner} = ${principal.id} and ${key} = any(${keys})
				returning ${key} as key`)
			: await tx.execute<{ key: string }>(sql`
				update ${sql.raw(table.source)} r set ${sql.raw(table.onDelete.set)}
				where ${owner} = ${principal.id} and ${key} = any(${keys})
				returning ${key} as key`);
	const removed = new Set(result.rows.map((row) => row.key));
	return ids
		.filter((id) => removed.has(push.keyOf.get(id) as string))
		.map((id) => ({ table: table.name, id, operation: "deleted" as const }));
}
