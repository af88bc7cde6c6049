import { z } from "@hono/zod-openapi";
import { SECTOR_SLUGS } from "../../queues/envelope.ts";
import type { Permission } from "../auth/permissions.ts";
import { NOTIFICATION_CATEGORIES } from "../db/schema/notifications.ts";
import { SERVING_REGIONS } from "../domain/serving-regions.ts";

/**
 * The sync table registry: every table a WatermelonDB client may hold, its columns exactly as the client's
 * schema names them, how each is read from Postgres, who may see which rows, and (for the tables users own)
 * what a pushed record must look like. Nothing outside this registry is ever read for, or written by, sync:
 * table and column names come from here, never from a request.
 */

/**
 * The client schema versions this server speaks. Version 2 added `notification_settings`; a client that
 * upgrades from 1 sends a `migration` naming it and receives every record of it on its next pull.
 */
export const SCHEMA_VERSIONS = [1, 2] as const;
export type SchemaVersion = (typeof SCHEMA_VERSIONS)[number];
export const LATEST_SCHEMA_VERSION: SchemaVersion = 2;

export type ColumnType = "string" | "number" | "boolean";

export interface SyncColumn {
	/** The WatermelonDB column name (snake_case, as in the client's `tableSchema`). */
	name: string;
	type: ColumnType;
	/** Whether the value may be null (`isOptional` in the client's schema). */
	optional: boolean;
	/** SQL producing the value from the table's row alias `r`: a constant of this module, never user input. */
	sql: string;
}

/** The SQL columns a row's nation, sector and serving region are read from, for scope filters. */
export interface ScopeColumns {
	nation?: string;
	sector?: string;
	region?: string;
}

interface BaseTable {
	name: SyncTableName;
	/** The client schema version that introduced the table. */
	since: SchemaVersion;
	/** The Postgres table (aliased `r` in every query). */
	source: string;
	/** SQL for the record's WatermelonDB id (a string). */
	id: string;
	/** The Postgres value a tombstone's `row_id` holds for this row, as text. */
	tombstoneKey: string;
	/** SQL for the WatermelonDB id of a tombstone (alias `t`) of this table. */
	tombstoneId: string;
	columns: readonly SyncColumn[];
}

/** Reference data: the server owns it; clients read what their scopes cover and never write. */
export interface ReferenceTable extends BaseTable {
	kind: "reference";
	/** The permission whose visibility filters the rows (c.var.principal.visibility). */
	permission: Permission;
	scope: ScopeColumns;
	/** SQL that is true for a soft-deleted row (sent as a tombstone), when the table soft-deletes. */
	softDeleted?: string;
}

/** Rows a user owns: each principal syncs only its own, and may push creates, updates and deletes. */
export interface OwnedTable extends BaseTable {
	kind: "owned";
	/** The Postgres column holding the owner (the principal's id). */
	owner: string;
	/** A pushed raw record: strict, so an unknown column is refused; `_status`/`_changed` are ignored. */
	record: z.ZodType<PushedRecord>;
	/** The Postgres column a pushed record's id is stored in (the upsert's conflict target). */
	key: string;
	/** The columns a pushed record writes. */
	writes: readonly WriteColumn[];
	/** Extra assignments when a push updates a row (the bookkeeping other writers of the table rely on). */
	onUpdate?: string;
	/** A pushed delete removes the row, or (a record every user has) resets it to these assignments. */
	onDelete: { kind: "delete" } | { kind: "reset"; set: string };
	/** One record per user, keyed by the owner: the only id a user may push is `idFor(owner)`. */
	singleton?: { idFor(owner: string): Promise<string> };
	/** The pushed field naming a project: it must be a project the principal may see and sync against. */
	projectRef?: string;
}

/** A Postgres column a push writes: its type (for `jsonb_to_recordset`) and its value from the record. */
export interface WriteColumn {
	column: string;
	type: "text" | "uuid" | "float8" | "boolean" | "timestamptz" | "text[]";
	value(record: PushedRecord, context: WriteContext): unknown;
}

export interface WriteContext {
	/** The database clock: device times later than this are clamped to it. */
	nowMs: number;
}

/** A device time, trusted for display but never later than the server's clock. */
const deviceTimestamp = (field: string) => (record: PushedRecord, context: WriteContext) =>
	new Date(Math.min(record[field] as number, context.nowMs)).toISOString();
const field = (name: string) => (record: PushedRecord) => record[name];

export type SyncTable = ReferenceTable | OwnedTable;

export const SYNC_TABLE_NAMES = [
	"nations",
	"sectors",
	"projects",
	"bookmarks",
	"field_reports",
	"notification_settings",
] as const;
export type SyncTableName = (typeof SYNC_TABLE_NAMES)[number];

/** A pushed record after validation: its id plus column values (already in their final types). */
export type PushedRecord = { id: string } & Record<string, unknown>;

/** Milliseconds since the epoch from a timestamptz column: WatermelonDB stores dates as numbers. */
const ms = (column: string) => `floor(extract(epoch from ${column}) * 1000)::bigint`;
const column = (name: string, type: ColumnType, optional = false, sql = `r.${name}`): SyncColumn => ({
	name,
	type,
	optional,
	sql,
});

/** WatermelonDB's default ids are 16 alphanumerics; `_-.` are safe too if an app brings its own generator. */
export const RECORD_ID = z
	.string()
	.regex(/^[A-Za-z0-9_.-]{1,64}$/, "a record id: 1 to 64 of A-Z a-z 0-9 _ . -");

/** The bookkeeping fields WatermelonDB includes in every pushed record; the protocol says to ignore them. */
const watermelonBookkeeping = {
	_status: z.enum(["created", "updated", "deleted", "synced"]).optional(),
	_changed: z.string().max(10_000).optional(),
};

/** A device timestamp in milliseconds (WatermelonDB's `created_at`/`updated_at`). */
const deviceTime = z
	.number()
	.int("a whole number of milliseconds since 1970")
	.min(0)
	.max(8_640_000_000_000_000, "not a representable date");

const NATIONS: ReferenceTable = {
	kind: "reference",
	name: "nations",
	since: 1,
	source: "nations",
	id: "r.iso2",
	tombstoneKey: "r.iso2",
	tombstoneId: "t.row_id",
	permission: "nations:read",
	scope: { nation: "r.iso2", region: "r.serving_region" },
	columns: [
		column("iso3", "string"),
		column("m49", "string"),
		column("name", "string"),
		column("official_name", "string"),
		column("region", "string"),
		column("subregion", "string"),
		column("intermediate_region", "string", true),
		column("serving_region", "string"),
		column("capital", "string", true),
		column("capital_lat", "number", true),
		column("capital_lng", "number", true),
		column("lat", "number", true),
		column("lng", "number", true),
		column("population", "number", true),
		column("population_year", "number", true),
		column("gdp_cents", "number", true),
		column("gdp_year", "number", true),
		column("covenant_status", "string"),
		column("contribution_rate_ppm", "number"),
		column("annual_contribution_cents", "number"),
		column("updated_at", "number", false, ms("r.updated_at")),
	],
};

const SECTORS: ReferenceTable = {
	kind: "reference",
	name: "sectors",
	since: 1,
	source: "sectors",
	id: "r.slug",
	tombstoneKey: "r.slug",
	tombstoneId: "t.row_id",
	permission: "sectors:read",
	scope: { sector: "r.slug" },
	columns: [
		column("name", "string"),
		column("description", "string"),
		column("updated_at", "number", false, ms("r.updated_at")),
	],
};

const PROJECTS: ReferenceTable = {
	kind: "reference",
	name: "projects",
	since: 1,
	source: "projects",
	id: "r.id::text",
	tombstoneKey: "r.id::text",
	tombstoneId: "t.row_id",
	permission: "projects:read",
	scope: { nation: "r.nation_iso2", sector: "r.sector", region: "r.serving_region" },
	softDeleted: "r.deleted_at is not null",
	columns: [
		column("name", "string"),
		// `<relation>_id` is WatermelonDB's convention for a belongs_to column.
		column("sector_id", "string", false, "r.sector"),
		column("nation_id", "string", false, "r.nation_iso2"),
		column("serving_region", "string"),
		column("region", "string"),
		column("status", "string"),
		column("budget_cents", "number"),
		column("funded_cents", "number"),
		column("expected_yield_bps", "number"),
		column("lat", "number"),
		column("lng", "number"),
		column("summary", "string"),
		column("created_at", "number", false, ms("r.created_at")),
		column("updated_at", "number", false, ms("r.updated_at")),
	],
};

const BOOKMARKS: OwnedTable = {
	kind: "owned",
	name: "bookmarks",
	since: 1,
	source: "bookmarks",
	id: "r.id",
	tombstoneKey: "r.id",
	tombstoneId: "t.row_id",
	owner: "user_id",
	columns: [
		column("project_id", "string", false, "r.project_id::text"),
		column("created_at", "number", false, ms("r.created_at")),
		column("updated_at", "number", false, ms("r.updated_at")),
	],
	record: z
		.object({
			id: RECORD_ID,
			project_id: z.uuid("a project id (uuid)"),
			created_at: deviceTime,
			updated_at: deviceTime,
			...watermelonBookkeeping,
		})
		.strict()
		.openapi("SyncBookmarkRecord"),
	key: "id",
	writes: [
		{ column: "project_id", type: "uuid", value: field("project_id") },
		{ column: "created_at", type: "timestamptz", value: deviceTimestamp("created_at") },
		{ column: "updated_at", type: "timestamptz", value: deviceTimestamp("updated_at") },
	],
	onDelete: { kind: "delete" },
	projectRef: "project_id",
};

const FIELD_REPORTS: OwnedTable = {
	kind: "owned",
	name: "field_reports",
	since: 1,
	source: "field_reports",
	id: "r.id",
	tombstoneKey: "r.id",
	tombstoneId: "t.row_id",
	owner: "user_id",
	columns: [
		column("project_id", "string", false, "r.project_id::text"),
		column("note", "string"),
		column("photo_ref", "string", true),
		column("lat", "number", true),
		column("lng", "number", true),
		column("created_at", "number", false, ms("r.created_at")),
		column("updated_at", "number", false, ms("r.updated_at")),
	],
	record: z
		.object({
			id: RECORD_ID,
			project_id: z.uuid("a project id (uuid)"),
			note: z.string().trim().min(1, "a field report needs a note").max(10_000),
			photo_ref: z
				.string()
				.min(1)
				.max(2048)
				.nullable()
				.openapi({ description: "The key or URL of an uploaded photo; null for none" }),
			lat: z.number().min(-90).max(90).nullable(),
			lng: z.number().min(-180).max(180).nullable(),
			created_at: deviceTime,
			updated_at: deviceTime,
			...watermelonBookkeeping,
		})
		.strict()
		.refine((r) => (r.lat === null) === (r.lng === null), {
			message: "lat and lng go together: both numbers, or both null",
			path: ["lat"],
		})
		.openapi("SyncFieldReportRecord"),
	key: "id",
	writes: [
		{ column: "project_id", type: "uuid", value: field("project_id") },
		{ column: "note", type: "text", value: field("note") },
		{ column: "photo_ref", type: "text", value: field("photo_ref") },
		{ column: "lat", type: "float8", value: field("lat") },
		{ column: "lng", type: "float8", value: field("lng") },
		{ column: "created_at", type: "timestamptz", value: deviceTimestamp("created_at") },
		{ column: "updated_at", type: "timestamptz", value: deviceTimestamp("updated_at") },
	],
	onDelete: { kind: "delete" },
	projectRef: "project_id",
};

/**
 * A JSON array carried in a string column (WatermelonDB columns hold no arrays): parsed, each item checked,
 * duplicates dropped. The value stored is the array.
 */
const jsonList = (item: z.ZodType<string>, what: string, max: number) =>
	z
		.string()
		.max(4096)
		.transform((text, ctx) => {
			let parsed: unknown;
			try {
				parsed = JSON.parse(text);
			} catch {
				parsed = undefined;
			}
			const result = z.array(item).max(max).safeParse(parsed);
			if (!result.success) {
				ctx.addIssue({ code: "custom", message: `must be a JSON array (as a string) of ${what}` });
				return z.NEVER;
			}
			return [...new Set(result.data)];
		})
		.openapi({ type: "string", description: `A JSON array (as a string) of ${what}` });

const oneOf = (values: readonly string[]) => z.enum(values as [string, ...string[]]);

/**
 * The sync id of a user's single notification settings record, from the SQL of the owner's id: stable across
 * devices, and made of characters WatermelonDB ids allow (a `sub` such as `auth0|123` is not). Must agree with
 * `notificationSettingsId`.
 */
export const settingsIdSql = (owner: string) =>
	`'ns_' || left(encode(sha256(convert_to(${owner}, 'UTF8')), 'hex'), 32)`;

/** The sync id of a user's notification settings record (the same as `settingsIdSql` computes). */
export async function notificationSettingsId(userId: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(userId));
	const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
	return `ns_${hex.slice(0, 32)}`;
}

const NOTIFICATION_SETTINGS: OwnedTable = {
	kind: "owned",
	name: "notification_settings",
	since: 2,
	source: "notification_settings",
	id: settingsIdSql("r.user_id"),
	tombstoneKey: "r.user_id",
	tombstoneId: settingsIdSql("t.row_id"),
	owner: "user_id",
	columns: [
		column("enabled", "boolean"),
		column("sectors", "string", false, "array_to_json(r.sectors)::text"),
		column("regions", "string", false, "array_to_json(r.regions)::text"),
		column("nations", "string", false, "array_to_json(r.nations)::text"),
		column("categories", "string", false, "array_to_json(r.categories)::text"),
		column("updated_at", "number", false, ms("r.updated_at")),
	],
	record: z
		.object({
			id: RECORD_ID,
			enabled: z.boolean(),
			sectors: jsonList(oneOf(SECTOR_SLUGS), `sector slugs (${SECTOR_SLUGS.join(", ")})`, 24),
			regions: jsonList(oneOf(SERVING_REGIONS), `serving regions (${SERVING_REGIONS.join(", ")})`, 24),
			nations: jsonList(z.string().regex(/^[A-Z]{2}$/), "ISO 3166-1 alpha-2 nation codes", 400),
			categories: jsonList(
				oneOf(NOTIFICATION_CATEGORIES),
				`notification categories (${NOTIFICATION_CATEGORIES.join(", ")})`,
				16,
			),
			updated_at: deviceTime,
			...watermelonBookkeeping,
		})
		.strict()
		.openapi("SyncNotificationSettingsRecord"),
	key: "user_id",
	writes: [
		{ column: "enabled", type: "boolean", value: field("enabled") },
		{ column: "sectors", type: "text[]", value: field("sectors") },
		{ column: "regions", type: "text[]", value: field("regions") },
		{ column: "nations", type: "text[]", value: field("nations") },
		{ column: "categories", type: "text[]", value: field("categories") },
	],
	// The notifications API versions settings and reads updated_at: a sync write is a write like any other.
	onUpdate: "updated_at = now(), version = r.version + 1",
	// Every user has settings (the defaults until saved), so a client deleting its record resets them.
	onDelete: {
		kind: "reset",
		set: `enabled = true, sectors = '{}', regions = '{}', nations = '{}', categories = '{${NOTIFICATION_CATEGORIES.join(",")}}', updated_at = now(), version = r.version + 1`,
	},
	singleton: { idFor: notificationSettingsId },
};

export const SYNC_TABLES: Readonly<Record<SyncTableName, SyncTable>> = {
	nations: NATIONS,
	sectors: SECTORS,
	projects: PROJECTS,
	bookmarks: BOOKMARKS,
	field_reports: FIELD_REPORTS,
	notification_settings: NOTIFICATION_SETTINGS,
};

/** The tables a client at `version` has, in a fixed order (reference data first). */
export function tablesAt(version: SchemaVersion): SyncTable[] {
	return SYNC_TABLE_NAMES.map((name) => SYNC_TABLES[name]).filter((t) => t.since <= version);
}

export function isSyncTableName(name: string): name is SyncTableName {
	return (SYNC_TABLE_NAMES as readonly string[]).includes(name);
}
