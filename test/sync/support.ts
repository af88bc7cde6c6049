import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import { type Database, withDb } from "../../workers/db/client.ts";
import type { PullResponse } from "../../workers/routes/sync/pull-changes.ts";
import type { PushResponse } from "../../workers/routes/sync/push-changes.ts";
import { bearer } from "../support/auth.ts";
import { call, json } from "../support/http.ts";

export type { PullResponse, PushResponse };
export type Changes = PullResponse["changes"];
export type SyncRecord = { id: string } & Record<string, unknown>;

/** Every scope a mobile user may hold that can push, for tests that do not test scoping. */
export const SYNC_USER = "sync:read sync:write projects:read";

/** A unique subject per test, so concurrent tests never see each other's user-owned rows. */
export const uniqueUser = (label: string) => `sync-${label}-${crypto.randomUUID().slice(0, 8)}`;

export async function pullResponse(
	scope: string,
	params: {
		last_pulled_at?: number | null;
		schema_version?: number | string;
		migration?: unknown;
		page_size?: number;
	} = {},
	sub?: string,
): Promise<Response> {
	const query = new URLSearchParams();
	query.set("last_pulled_at", String(params.last_pulled_at ?? null));
	query.set("schema_version", String(params.schema_version ?? 2));
	if (params.migration !== undefined) query.set("migration", JSON.stringify(params.migration));
	if (params.page_size !== undefined) query.set("page_size", String(params.page_size));
	return call(`/v1/sync?${query}`, { headers: await bearer(scope, sub) });
}

/** One pull that must succeed. */
export async function pull(
	scope: string,
	params: Parameters<typeof pullResponse>[1] = {},
	sub?: string,
): Promise<PullResponse> {
	const response = await pullResponse(scope, params, sub);
	const text = await response.text();
	expect(response.status, text).toBe(200);
	return JSON.parse(text) as PullResponse;
}

/** Pulls page after page until `has_more` is false, as an app would; returns every page. */
export async function pullAll(
	scope: string,
	params: Parameters<typeof pullResponse>[1] = {},
	sub?: string,
): Promise<PullResponse[]> {
	const pages: PullResponse[] = [];
	let lastPulledAt = params.last_pulled_at ?? null;
	for (let i = 0; i < 200; i++) {
		const page = await pull(scope, { ...params, last_pulled_at: lastPulledAt }, sub);
		pages.push(page);
		if (lastPulledAt !== null) expect(page.timestamp).toBeGreaterThanOrEqual(lastPulledAt);
		lastPulledAt = page.timestamp;
		if (!page.has_more) return pages;
	}
	throw new Error("pullAll: still has_more after 200 pages");
}

export async function pushResponse(
	scope: string,
	body: { changes: Record<string, unknown>; lastPulledAt: number },
	sub?: string,
	options: { query?: string; env?: Partial<Env> } = {},
): Promise<Response> {
	const query = options.query ?? `?last_pulled_at=${body.lastPulledAt}`;
	return call(
		`/v1/sync${query}`,
		{ method: "POST", headers: await bearer(scope, sub), json: body },
		options.env,
	);
}

/** A push that must succeed. */
export async function push(
	scope: string,
	body: { changes: Record<string, unknown>; lastPulledAt: number },
	sub?: string,
	env?: Partial<Env>,
): Promise<PushResponse> {
	const response = await pushResponse(scope, body, sub, { env });
	const text = await response.text();
	expect(response.status, text).toBe(200);
	return JSON.parse(text) as PushResponse;
}

/** The records of one table in one list, by id. */
export function byId(changes: Changes, table: string, list: "created" | "updated"): Map<string, SyncRecord> {
	const tableChanges = changes[table] as { created: SyncRecord[]; updated: SyncRecord[] } | undefined;
	return new Map((tableChanges?.[list] ?? []).map((r) => [r.id, r]));
}

export function deletedIds(changes: Changes, table: string): string[] {
	return (changes[table] as { deleted: string[] } | undefined)?.deleted ?? [];
}

export const db = <T>(fn: (db: Database) => Promise<T>) => withDb(env, fn);

/** A project of our own (unique name), inserted directly like the projects API or a seed would. */
export async function insertProject(
	label: string,
	values: { nation?: string; sector?: string } = {},
): Promise<{ id: string; name: string }> {
	const name = `Sync test ${label} ${crypto.randomUUID().slice(0, 8)}`;
	const nation = values.nation ?? "KE";
	const sector = values.sector ?? "energy";
	return db(async (d) => {
		const result = await d.execute<{ id: string }>(sql`
			insert into projects (name, sector, nation_iso2, serving_region, region, status, budget_cents, funded_cents,
				expected_yield_bps, lat, lng, summary)
			select ${name}, ${sector}, n.iso2, n.serving_region, n.region, 'proposed', 100000, 0, 500, 0, 0, 'A sync test project'
			from nations n where n.iso2 = ${nation}
			returning id::text as id`);
		const id = result.rows[0]?.id;
		if (!id) throw new Error(`no nation ${nation}`);
		return { id, name };
	});
}

/** Moves or edits a project the way the projects API does (bumping updated_at and version). */
export async function updateProject(id: string, set: { name?: string; nation?: string; sector?: string }) {
	await db(async (d) => {
		if (set.name !== undefined) {
			await d.execute(
				sql`update projects set name = ${set.name}, updated_at = now(), version = version + 1 where id = ${id}`,
			);
		}
		if (set.sector !== undefined) {
			await d.execute(
				sql`update projects set sector = ${set.sector}, updated_at = now(), version = version + 1 where id = ${id}`,
			);
		}
		if (set.nation !== undefined) {
			await d.execute(sql`
				update projects p set nation_iso2 = n.iso2, serving_region = n.serving_region, region = n.region,
					updated_at = now(), version = p.version + 1
				from nations n where n.iso2 = ${set.nation} and p.id = ${id}`);
		}
	});
}

export async function deleteProjects(ids: string[]) {
	if (ids.length === 0) return;
	await db((d) => d.execute(sql`delete from projects where id = any(${sql.param(ids)}::uuid[])`));
}

/** A WatermelonDB-style id (16 alphanumerics). */
export function recordId(): string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => alphabet[b % alphabet.length]).join(
		"",
	);
}

/** An empty change set for every table of the latest schema, as WatermelonDB sends it. */
export function emptyChanges(): Record<
	string,
	{ created: unknown[]; updated: unknown[]; deleted: string[] }
> {
	const tables = ["nations", "sectors", "projects", "bookmarks", "field_reports", "notification_settings"];
	return Object.fromEntries(tables.map((t) => [t, { created: [], updated: [], deleted: [] }]));
}

/** A pushed bookmark record, WatermelonDB raw-record style (with `_status`/`_changed`). */
export function bookmark(projectId: string, id = recordId()) {
	const now = Date.now();
	return { id, _status: "created", _changed: "", project_id: projectId, created_at: now, updated_at: now };
}

export function fieldReport(
	projectId: string,
	values: Partial<Record<string, unknown>> = {},
	id = recordId(),
) {
	const now = Date.now();
	return {
		id,
		_status: "created",
		_changed: "",
		project_id: projectId,
		note: "Pump station 2 is running; the access road is washed out.",
		photo_ref: null,
		lat: null,
		lng: null,
		created_at: now,
		updated_at: now,
		...values,
	};
}

/** A queue binding that keeps what is sent to it, to see exactly which events a push produced. */
export function capturingQueue(): { queue: Queue; bodies: Record<string, unknown>[] } {
	const bodies: Record<string, unknown>[] = [];
	const queue = {
		async send(body: unknown) {
			bodies.push(body as Record<string, unknown>);
		},
		async sendBatch(messages: Iterable<MessageSendRequest>) {
			for (const message of messages) bodies.push(message.body as Record<string, unknown>);
		},
	} as unknown as Queue;
	return { queue, bodies };
}

export { json };
