import { z } from "@hono/zod-openapi";
import { createEvent, type NewEvent } from "../../../queues/envelope.ts";
import { drainOutbox, enqueueInTransaction } from "../../../queues/outbox.ts";
import type { App } from "../../app.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { type AppliedChange, MAX_PUSH_RECORDS, pushChanges } from "../../sync/push.ts";
import {
	type OwnedTable,
	type PushedRecord,
	RECORD_ID,
	SYNC_TABLE_NAMES,
	SYNC_TABLES,
	type SyncTableName,
} from "../../sync/tables.ts";

/** Keeps zod's work bounded before the record count is checked (a body is at most 1 MiB anyway). */
const MAX_LIST = MAX_PUSH_RECORDS * 10;

const readOnlyChanges = z
	.object({
		created: z.array(z.unknown()).max(MAX_LIST),
		updated: z.array(z.unknown()).max(MAX_LIST),
		deleted: z.array(z.string()).max(MAX_LIST),
	})
	.strict()
	.openapi({ description: "Read-only to clients: must be empty (WatermelonDB sends every table)" });

const ownedChanges = (table: OwnedTable) =>
	z
		.object({
			created: z.array(table.record).max(MAX_LIST),
			updated: z.array(table.record).max(MAX_LIST),
			deleted: z.array(RECORD_ID).max(MAX_LIST),
		})
		.strict();

export const PushBodySchema = z
	.object({
		changes: z
			.object(
				Object.fromEntries(
					SYNC_TABLE_NAMES.map((name) => {
						const table = SYNC_TABLES[name];
						return [name, (table.kind === "owned" ? ownedChanges(table) : readOnlyChanges).optional()];
					}),
				),
			)
			.strict(),
		lastPulledAt: z
			.number()
			.int()
			.positive()
			.openapi({ description: "The `timestamp` of the client's last pull" }),
	})
	.strict()
	.openapi("SyncPush");

const PushQuerySchema = z.object({
	last_pulled_at: z
		.string()
		.regex(/^\d{1,16}$/, "the timestamp of the last pull, in milliseconds")
		.optional()
		.openapi({
			param: { name: "last_pulled_at", in: "query" },
			description: "Optional; when given it must equal the body's `lastPulledAt`",
		}),
});

const CountsSchema = z.object({
	created: z.number().int(),
	updated: z.number().int(),
	deleted: z.number().int(),
});

export const PushResponseSchema = z
	.object({
		applied: z.record(z.string(), CountsSchema).openapi({
			description: "Per table: records created, updated and deleted (ignored deletes are not counted)",
		}),
	})
	.openapi("SyncPushResult");
export type PushResponse = z.infer<typeof PushResponseSchema>;

export const route = defineRoute({
	method: "post",
	path: "/v1/sync",
	tags: ["sync"],
	summary: "Push changes (WatermelonDB sync protocol)",
	description: `Applies the client's changes to the tables users own (bookmarks, field_reports, notification_settings) in one transaction, or refuses them all: 409 if any record changed on the server after \`lastPulledAt\` (pull, then push again), 403 for read-only tables or other users' records, 422 for a project the caller cannot see, 413 above ${MAX_PUSH_RECORDS} records. Every applied change emits a \`sync.changes.applied\` audit event.`,
	access: { permission: "sync:write" },
	request: {
		query: PushQuerySchema,
		body: { required: true, content: { "application/json": { schema: PushBodySchema } } },
	},
	responses: {
		200: {
			description: "Every change was applied",
			content: { "application/json": { schema: PushResponseSchema } },
		},
		...problemResponses(400, 409, 413, 422),
	},
});

/** The audit event of one applied change: the record as stored (deletes name only the record). */
function auditEvent(change: AppliedChange, record: PushedRecord | undefined, actor: string): NewEvent {
	const after =
		record &&
		Object.fromEntries(Object.entries(record).filter(([key]) => key !== "_status" && key !== "_changed"));
	return {
		type: "sync.changes.applied",
		subject: `${change.table}/${change.id}`,
		actor,
		data: {
			table: change.table,
			record_id: change.id,
			operation: change.operation,
			...(typeof record?.project_id === "string" ? { project_id: record.project_id } : {}),
			...(after ? { after } : {}),
		},
	};
}

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const body = c.req.valid("json");
		const query = c.req.valid("query");
		if (query.last_pulled_at !== undefined && Number(query.last_pulled_at) !== body.lastPulledAt) {
			throw new ApiError(
				"invalid_request",
				`last_pulled_at in the query (${query.last_pulled_at}) and lastPulledAt in the body (${body.lastPulledAt}) differ`,
			);
		}
		const principal = c.var.principal;
		const records = new Map<string, PushedRecord>();
		for (const [name, changes] of Object.entries(body.changes)) {
			if (!changes || SYNC_TABLES[name as SyncTableName].kind !== "owned") continue;
			for (const record of [...changes.created, ...changes.updated] as PushedRecord[]) {
				records.set(`${name}/${record.id}`, record);
			}
		}
		const db = c.var.db();
		const source = `covenant-edge/${c.var.servingRegion}`;
		let eventIds: string[] = [];
		const result = await pushChanges(
			db,
			principal,
			{ lastPulledAt: body.lastPulledAt, changes: body.changes },
			async (tx, applied) => {
				const events = applied.map((change) =>
					createEvent(
						auditEvent(
							change,
							change.operation === "deleted" ? undefined : records.get(`${change.table}/${change.id}`),
							principal.id,
						),
						{ source, requestId: c.var.requestId },
					),
				);
				await enqueueInTransaction(tx, events);
				eventIds = events.map((e) => e.id);
			},
		);
		// Committed: send the audit events now; whatever the queue refuses stays in the outbox for the sweep.
		if (eventIds.length > 0) {
			await drainOutbox(c.env, db, { eventIds }).catch((error) => {
				console.warn(JSON.stringify({ msg: "sync audit events left in the outbox", error: String(error) }));
			});
		}
		const applied: PushResponse["applied"] = {};
		for (const change of result.applied) {
			const counts = applied[change.table] ?? { created: 0, updated: 0, deleted: 0 };
			counts[change.operation] += 1;
			applied[change.table] = counts;
		}
		return c.json({ applied }, 200);
	});
