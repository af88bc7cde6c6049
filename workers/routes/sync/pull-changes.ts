import { z } from "@hono/zod-openapi";
import type { TypedResponse } from "hono";
import type { App } from "../../app.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pullChanges } from "../../sync/pull.ts";
import {
	isSyncTableName,
	LATEST_SCHEMA_VERSION,
	SCHEMA_VERSIONS,
	type SchemaVersion,
	SYNC_TABLE_NAMES,
	SYNC_TABLES,
	type SyncColumn,
	type SyncTableName,
} from "../../sync/tables.ts";

/** WatermelonDB puts `null` into the URL as the string "null"; 0 also means "never pulled". */
const LastPulledAtParam = z
	.string()
	.regex(/^(null|\d{1,16})$/, "the timestamp of the last pull (milliseconds), or null")
	.optional()
	.openapi({
		param: { name: "last_pulled_at", in: "query" },
		description: "The `timestamp` of your last pull; `null` (or absent, or 0) for a first sync",
		example: "null",
	});

export const PullQuerySchema = z.object({
	last_pulled_at: LastPulledAtParam,
	schema_version: z
		.string()
		.regex(/^\d{1,4}$/, "the client's schema version, a whole number")
		.openapi({
			param: { name: "schema_version", in: "query" },
			description: `The client's WatermelonDB schema version; supported: ${SCHEMA_VERSIONS.join(", ")}`,
			example: String(LATEST_SCHEMA_VERSION),
		}),
	migration: z
		.string()
		.max(10_000)
		.optional()
		.openapi({
			param: { name: "migration", in: "query" },
			description:
				"WatermelonDB's migration info as JSON (`{from, tables, columns}`), or `null`: the tables and columns named are sent in full",
			example: "null",
		}),
	page_size: z
		.string()
		.regex(/^\d{1,5}$/)
		.optional()
		.openapi({
			param: { name: "page_size", in: "query" },
			description: `Most records per response (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE}); when more remain, \`has_more\` is true`,
		}),
});

/** A pulled record of a table, as the client's schema describes it (documentation of the contract). */
function pulledRecordSchema(name: SyncTableName) {
	const columnSchema = (column: SyncColumn) => {
		const base = column.type === "string" ? z.string() : column.type === "number" ? z.number() : z.boolean();
		return column.optional ? base.nullable() : base;
	};
	const table = SYNC_TABLES[name];
	return z
		.object({
			id: z.string(),
			...Object.fromEntries(table.columns.map((column) => [column.name, columnSchema(column)])),
		})
		.openapi(`SyncPulled_${name}`);
}

const tableChanges = (name: SyncTableName) =>
	z.object({
		created: z.array(pulledRecordSchema(name)),
		updated: z.array(pulledRecordSchema(name)),
		deleted: z.array(z.string()).openapi({ description: "Ids the client must delete" }),
	});

export const PullResponseSchema = z
	.object({
		changes: z
			.object(Object.fromEntries(SYNC_TABLE_NAMES.map((name) => [name, tableChanges(name).optional()])))
			.openapi({ description: "Every table of the client's schema version; snake_case columns, string ids" }),
		timestamp: z.number().int().openapi({
			description: "Send it back as `last_pulled_at` next time; everything up to it is in this response",
		}),
		has_more: z.boolean().openapi({
			description: "More changes are waiting: pull again (from `timestamp`) before relying on completeness",
		}),
	})
	.openapi("SyncPull");
export type PullResponse = z.infer<typeof PullResponseSchema>;

const MigrationSchema = z
	.object({
		from: z.number().int().min(1),
		tables: z.array(z.string()).max(SYNC_TABLE_NAMES.length * 2),
		columns: z
			.array(z.object({ table: z.string(), columns: z.array(z.string()).max(200) }).strict())
			.max(SYNC_TABLE_NAMES.length * 2),
	})
	.strict();

export const route = defineRoute({
	method: "get",
	path: "/v1/sync",
	tags: ["sync"],
	summary: "Pull changes (WatermelonDB sync protocol)",
	description:
		"Everything that changed since `last_pulled_at` in the tables of the client's schema version, limited to what the caller may see, as WatermelonDB's `synchronize()` expects. A first sync (`last_pulled_at=null`) sends every visible record as created. Large pulls come in pages: while `has_more` is true, pull again from the returned `timestamp` (see docs/sync.md). Deletions are remembered for 30 days: a `last_pulled_at` more than 29 days old is answered 410 `resync_required` (reset the local database, then a first sync).",
	access: { permission: "sync:read" },
	request: { query: PullQuerySchema },
	responses: {
		200: {
			description: "The changes, and the timestamp to pull from next",
			content: { "application/json": { schema: PullResponseSchema } },
		},
		...problemResponses(400, 410, 503),
	},
});

interface ParsedMigration {
	fullTables: Set<SyncTableName>;
	newTables: Set<SyncTableName>;
}

/** Validates WatermelonDB's migration info: known tables and columns only (never echoed into SQL). */
function parseMigration(text: string | undefined, schemaVersion: SchemaVersion): ParsedMigration {
	const none = { fullTables: new Set<SyncTableName>(), newTables: new Set<SyncTableName>() };
	if (text === undefined || text === "" || text === "null") return none;
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch {
		throw new ApiError("invalid_request", "migration must be JSON ({from, tables, columns}) or null");
	}
	if (json === null) return none;
	const result = MigrationSchema.safeParse(json);
	if (!result.success) {
		throw new ApiError(
			"invalid_request",
			"migration must be {from, tables, columns} as WatermelonDB sends it",
			{
				errors: result.error.issues.map((i) => ({
					path: ["migration", ...i.path.map((p) => (typeof p === "symbol" ? String(p) : p))],
					message: i.message,
					code: i.code,
				})),
			},
		);
	}
	const { from, tables, columns } = result.data;
	if (!(SCHEMA_VERSIONS as readonly number[]).includes(from) || from >= schemaVersion) {
		throw new ApiError(
			"invalid_request",
			`migration.from ${from} is not a supported schema version below ${schemaVersion} (supported: ${SCHEMA_VERSIONS.join(", ")})`,
		);
	}
	const unknown: string[] = [];
	const fullTables = new Set<SyncTableName>();
	const newTables = new Set<SyncTableName>();
	const known = (name: string) => isSyncTableName(name) && SYNC_TABLES[name].since <= schemaVersion;
	for (const name of tables) {
		if (known(name)) {
			fullTables.add(name as SyncTableName);
			newTables.add(name as SyncTableName);
		} else unknown.push(`table ${name}`);
	}
	for (const entry of columns) {
		if (!known(entry.table)) {
			unknown.push(`table ${entry.table}`);
			continue;
		}
		const table = SYNC_TABLES[entry.table as SyncTableName];
		for (const name of entry.columns) {
			if (!table.columns.some((c) => c.name === name)) unknown.push(`column ${entry.table}.${name}`);
		}
		fullTables.add(table.name);
	}
	if (unknown.length > 0) {
		throw new ApiError(
			"invalid_request",
			`migration names what schema version ${schemaVersion} does not have: ${unknown.join(", ")}`,
		);
	}
	return { fullTables, newTables };
}

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const query = c.req.valid("query");
		const version = Number(query.schema_version);
		if (!(SCHEMA_VERSIONS as readonly number[]).includes(version)) {
			throw new ApiError(
				"invalid_request",
				`schema_version ${version} is not supported; this server speaks ${SCHEMA_VERSIONS.join(", ")}. Update the app`,
				{ extensions: { supported_schema_versions: SCHEMA_VERSIONS } },
			);
		}
		const schemaVersion = version as SchemaVersion;
		const raw = query.last_pulled_at;
		const lastPulledAt = raw === undefined || raw === "null" || Number(raw) === 0 ? null : Number(raw);
		const pageSize = query.page_size === undefined ? DEFAULT_PAGE_SIZE : Number(query.page_size);
		if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
			throw new ApiError("invalid_request", `page_size must be between 1 and ${MAX_PAGE_SIZE}`);
		}
		const migration = parseMigration(query.migration, schemaVersion);
		const page = await pullChanges(c.var.db(), c.var.principal, {
			lastPulledAt,
			schemaVersion,
			fullTables: migration.fullTables,
			newTables: migration.newTables,
			pageSize,
		});
		// The body is JSON text Postgres built (see pullChanges), already in PullResponseSchema's shape: parsing it
		// only to serialise it again would cost the CPU the design saves, so the typed response is asserted.
		return c.body(page.body, 200, {
			"content-type": "application/json; charset=utf-8",
			"cache-control": "no-store",
		}) as unknown as TypedResponse<PullResponse, 200, "json">;
	});
