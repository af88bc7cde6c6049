import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notificationSettingsId } from "../../workers/sync/tables.ts";
import {
	bookmark,
	byId,
	capturingQueue,
	db,
	deletedIds,
	deleteProjects,
	emptyChanges,
	fieldReport,
	insertProject,
	json,
	pull,
	pullAll,
	push,
	pushResponse,
	recordId,
	SYNC_USER,
	uniqueUser,
} from "./support.ts";

let base: number;
let kenyan: { id: string };
let tanzanian: { id: string };

beforeAll(async () => {
	base = (await pullAll("admin", { last_pulled_at: null })).at(-1)?.timestamp as number;
	kenyan = await insertProject("push-ke", { nation: "KE" });
	tanzanian = await insertProject("push-tz", { nation: "TZ" });
});
afterAll(() => deleteProjects([kenyan.id, tanzanian.id]));

/** Pulls everything since `from` for this user (the app's pull before it pushes). */
async function syncedAt(sub: string, from = base, scope = SYNC_USER) {
	const pages = await pullAll(scope, { last_pulled_at: from }, sub);
	return { timestamp: pages.at(-1)?.timestamp as number, pages };
}

function changesWith(table: string, list: "created" | "updated" | "deleted", items: unknown[]) {
	const changes = emptyChanges();
	(changes[table] as Record<string, unknown[]>)[list] = items;
	return changes;
}

describe("POST /v1/sync: push then pull", () => {
	it("creates the user's records: an echo to the device that pushed them, new to the user's other devices", async () => {
		const sub = uniqueUser("roundtrip");
		const { timestamp } = await syncedAt(sub);
		const mark = bookmark(kenyan.id);
		const report = fieldReport(kenyan.id, { lat: -1.2921, lng: 36.8219, photo_ref: "photos/abc.jpg" });
		const changes = emptyChanges();
		changes.bookmarks = { created: [mark], updated: [], deleted: [] };
		changes.field_reports = { created: [report], updated: [], deleted: [] };

		const result = await push(SYNC_USER, { changes, lastPulledAt: timestamp }, sub);
		expect(result.applied).toEqual({
			bookmarks: { created: 1, updated: 0, deleted: 0 },
			field_reports: { created: 1, updated: 0, deleted: 0 },
		});

		// The pushing device's next pull starts where its push did: its own records come back as updated (so a
		// record it deleted in between is not recreated by WatermelonDB).
		const after = await syncedAt(sub, timestamp);
		const echoed = new Map(after.pages.flatMap((p) => [...byId(p.changes, "field_reports", "updated")]));
		expect(after.pages.flatMap((p) => [...byId(p.changes, "field_reports", "created").keys()])).not.toContain(
			report.id,
		);
		expect(echoed.get(report.id)).toEqual({
			id: report.id,
			project_id: kenyan.id,
			note: report.note,
			photo_ref: "photos/abc.jpg",
			lat: -1.2921,
			lng: 36.8219,
			created_at: report.created_at,
			updated_at: report.updated_at,
		});
		const marks = new Map(after.pages.flatMap((p) => [...byId(p.changes, "bookmarks", "updated")]));
		expect(marks.get(mark.id)).toMatchObject({ project_id: kenyan.id });

		// The user's tablet, last synced earlier, has never seen them: created.
		const tablet = await syncedAt(sub, base);
		const onTablet = new Map(tablet.pages.flatMap((p) => [...byId(p.changes, "field_reports", "created")]));
		expect(onTablet.get(report.id)).toMatchObject({ note: report.note });

		// Another user sees none of it.
		const other = await syncedAt(uniqueUser("other"), timestamp);
		expect(other.pages.flatMap((p) => [...byId(p.changes, "field_reports", "created").keys()])).not.toContain(
			report.id,
		);
	});

	it("updates and deletes, and a later pull reports them", async () => {
		const sub = uniqueUser("update");
		const first = await syncedAt(sub);
		const report = fieldReport(kenyan.id);
		const mark = bookmark(kenyan.id);
		const created = changesWith("field_reports", "created", [report]);
		created.bookmarks = { created: [mark], updated: [], deleted: [] };
		await push(SYNC_USER, { changes: created, lastPulledAt: first.timestamp }, sub);
		const second = await syncedAt(sub, first.timestamp);

		const edited = { ...report, _status: "updated", _changed: "note", note: "The road is repaired." };
		const changes = changesWith("field_reports", "updated", [edited]);
		changes.bookmarks = { created: [], updated: [], deleted: [mark.id] };
		const result = await push(SYNC_USER, { changes, lastPulledAt: second.timestamp }, sub);
		expect(result.applied).toEqual({
			field_reports: { created: 0, updated: 1, deleted: 0 },
			bookmarks: { created: 0, updated: 0, deleted: 1 },
		});

		const third = await syncedAt(sub, second.timestamp);
		const updated = new Map(third.pages.flatMap((p) => [...byId(p.changes, "field_reports", "updated")]));
		expect(updated.get(report.id)?.note).toBe("The road is repaired.");
		expect(third.pages.flatMap((p) => deletedIds(p.changes, "bookmarks"))).toEqual([mark.id]);
	});

	it("treats a created record that already exists as an update, and an update of an unknown record as a create", async () => {
		const sub = uniqueUser("idempotent");
		const first = await syncedAt(sub);
		const report = fieldReport(kenyan.id);
		await push(
			SYNC_USER,
			{ changes: changesWith("field_reports", "created", [report]), lastPulledAt: first.timestamp },
			sub,
		);
		// The app never heard back and pushes the same creation again, after pulling its own record.
		const second = await syncedAt(sub, first.timestamp);
		const again = await push(
			SYNC_USER,
			{
				changes: changesWith("field_reports", "created", [{ ...report, note: "Retried" }]),
				lastPulledAt: second.timestamp,
			},
			sub,
		);
		expect(again.applied).toEqual({ field_reports: { created: 0, updated: 1, deleted: 0 } });

		const orphan = { ...fieldReport(kenyan.id), _status: "updated" };
		const third = await push(
			SYNC_USER,
			{ changes: changesWith("field_reports", "updated", [orphan]), lastPulledAt: second.timestamp },
			sub,
		);
		expect(third.applied).toEqual({ field_reports: { created: 1, updated: 0, deleted: 0 } });
	});

	it("ignores deletes of unknown ids", async () => {
		const sub = uniqueUser("unknown-delete");
		const { timestamp } = await syncedAt(sub);
		const result = await push(
			SYNC_USER,
			{ changes: changesWith("bookmarks", "deleted", [recordId(), recordId()]), lastPulledAt: timestamp },
			sub,
		);
		expect(result.applied).toEqual({});
	});

	it("emits one sync.changes.applied audit event per applied change, and none for ignored deletes", async () => {
		const sub = uniqueUser("audit");
		const { timestamp } = await syncedAt(sub);
		const audit = capturingQueue();
		const report = fieldReport(kenyan.id);
		const changes = changesWith("field_reports", "created", [report]);
		changes.bookmarks = { created: [], updated: [], deleted: [recordId()] };
		await push(SYNC_USER, { changes, lastPulledAt: timestamp }, sub, {
			AUDIT_QUEUE: audit.queue,
		} as Partial<Env>);
		expect(audit.bodies).toHaveLength(1);
		expect(audit.bodies[0]).toMatchObject({
			type: "sync.changes.applied",
			subject: `field_reports/${report.id}`,
			actor: sub,
			data: { table: "field_reports", record_id: report.id, operation: "created", project_id: kenyan.id },
		});
		const after = (audit.bodies[0]?.data as { after: Record<string, unknown> } | undefined)?.after;
		expect(after).toMatchObject({ note: report.note });
		expect(after).not.toHaveProperty("_status");
	});

	it("lands the audit events in the audit log", async () => {
		const sub = uniqueUser("audit-log");
		const { timestamp } = await syncedAt(sub);
		const mark = bookmark(kenyan.id);
		await push(
			SYNC_USER,
			{ changes: changesWith("bookmarks", "created", [mark]), lastPulledAt: timestamp },
			sub,
		);
		let rows: { action: string; actor: string }[] = [];
		// The audit consumer runs on its queue's batch timer; under a full test run that can take a while.
		for (let i = 0; i < 200 && rows.length === 0; i++) {
			rows = await db(
				async (d) =>
					(
						await d.execute<{ action: string; actor: string }>(
							sql`select action, actor from audit_log where target = ${`bookmarks/${mark.id}`}`,
						)
					).rows,
			);
			if (rows.length === 0) await new Promise((r) => setTimeout(r, 100));
		}
		expect(rows).toEqual([{ action: "sync.changes.applied", actor: sub }]);
	});
});

describe("POST /v1/sync: conflicts", () => {
	it("refuses the whole push when a record changed on the server after last_pulled_at", async () => {
		const sub = uniqueUser("conflict");
		const first = await syncedAt(sub);
		const report = fieldReport(kenyan.id);
		await push(
			SYNC_USER,
			{ changes: changesWith("field_reports", "created", [report]), lastPulledAt: first.timestamp },
			sub,
		);
		// Another device of the same user edits it after this device's last pull ...
		const other = await syncedAt(sub, first.timestamp);
		await push(
			SYNC_USER,
			{
				changes: changesWith("field_reports", "updated", [{ ...report, note: "From the tablet" }]),
				lastPulledAt: other.timestamp,
			},
			sub,
		);
		// ... so this device's push, still based on its first pull, is refused, and its new bookmark with it.
		const mark = bookmark(kenyan.id);
		const changes = changesWith("field_reports", "updated", [{ ...report, note: "From the phone" }]);
		changes.bookmarks = { created: [mark], updated: [], deleted: [] };
		const response = await pushResponse(SYNC_USER, { changes, lastPulledAt: first.timestamp }, sub);
		expect(response.status).toBe(409);
		const problem = await json<{ code: string; conflicts: { table: string; id: string; reason: string }[] }>(
			response,
		);
		expect(problem.code).toBe("conflict");
		expect(problem.conflicts).toEqual([{ table: "field_reports", id: report.id, reason: "changed" }]);
		expect(response.headers.get("content-type")).toBe("application/problem+json");

		const count = await db(
			async (d) =>
				(await d.execute<{ n: number }>(sql`select count(*)::int as n from bookmarks where id = ${mark.id}`))
					.rows[0]?.n,
		);
		expect(count).toBe(0);
		const note = await db(
			async (d) =>
				(await d.execute<{ note: string }>(sql`select note from field_reports where id = ${report.id}`))
					.rows[0]?.note,
		);
		expect(note).toBe("From the tablet");

		// After pulling, the same push goes through.
		const fresh = await syncedAt(sub, first.timestamp);
		const retried = await push(SYNC_USER, { changes, lastPulledAt: fresh.timestamp }, sub);
		expect(retried.applied.bookmarks?.created).toBe(1);
	});

	it("refuses a write to a record deleted on the server after last_pulled_at", async () => {
		const sub = uniqueUser("deleted-conflict");
		const first = await syncedAt(sub);
		const report = fieldReport(kenyan.id);
		await push(
			SYNC_USER,
			{ changes: changesWith("field_reports", "created", [report]), lastPulledAt: first.timestamp },
			sub,
		);
		const second = await syncedAt(sub, first.timestamp);
		await push(
			SYNC_USER,
			{ changes: changesWith("field_reports", "deleted", [report.id]), lastPulledAt: second.timestamp },
			sub,
		);
		const response = await pushResponse(
			SYNC_USER,
			{ changes: changesWith("field_reports", "updated", [report]), lastPulledAt: second.timestamp },
			sub,
		);
		expect(response.status).toBe(409);
		expect((await json<{ conflicts: unknown[] }>(response)).conflicts).toEqual([
			{ table: "field_reports", id: report.id, reason: "deleted" },
		]);
	});
});

describe("POST /v1/sync: what a user may push", () => {
	it("refuses pushes to another user's records (403), applying nothing", async () => {
		const owner = uniqueUser("owner");
		const intruder = uniqueUser("intruder");
		const { timestamp } = await syncedAt(owner);
		const report = fieldReport(kenyan.id);
		await push(
			SYNC_USER,
			{ changes: changesWith("field_reports", "created", [report]), lastPulledAt: timestamp },
			owner,
		);
		const later = await syncedAt(intruder, timestamp);
		for (const list of ["created", "updated"] as const) {
			const response = await pushResponse(
				SYNC_USER,
				{
					changes: changesWith("field_reports", list, [{ ...report, note: "mine now" }]),
					lastPulledAt: later.timestamp,
				},
				intruder,
			);
			expect(response.status, list).toBe(403);
			expect((await json<{ records: unknown[] }>(response)).records).toEqual([
				{ table: "field_reports", id: report.id },
			]);
		}
		const deleting = await pushResponse(
			SYNC_USER,
			{ changes: changesWith("field_reports", "deleted", [report.id]), lastPulledAt: later.timestamp },
			intruder,
		);
		expect(deleting.status).toBe(403);
		const note = await db(
			async (d) =>
				(await d.execute<{ note: string }>(sql`select note from field_reports where id = ${report.id}`))
					.rows[0]?.note,
		);
		expect(note).toBe(report.note);
	});

	it("refuses changes to read-only tables (403)", async () => {
		const sub = uniqueUser("readonly");
		const { timestamp } = await syncedAt(sub);
		const changes = changesWith("projects", "updated", [{ id: kenyan.id, name: "Hijacked" }]);
		changes.bookmarks = { created: [bookmark(kenyan.id)], updated: [], deleted: [] };
		const response = await pushResponse(SYNC_USER, { changes, lastPulledAt: timestamp }, sub);
		expect(response.status).toBe(403);
		expect((await json<{ read_only_tables: string[] }>(response)).read_only_tables).toEqual(["projects"]);
	});

	it("refuses records naming a project the user cannot see (422), as if it did not exist", async () => {
		const sub = uniqueUser("scoped");
		const scope = "nation:KE";
		const { timestamp } = await syncedAt(sub, base, scope);
		const changes = changesWith("field_reports", "created", [
			fieldReport(kenyan.id),
			fieldReport(tanzanian.id),
		]);
		changes.bookmarks = { created: [bookmark(crypto.randomUUID())], updated: [], deleted: [] };
		const response = await pushResponse(scope, { changes, lastPulledAt: timestamp }, sub);
		expect(response.status).toBe(422);
		const problem = await json<{ errors: { path: unknown[]; code: string }[] }>(response);
		expect(problem.errors.map((e) => e.path)).toEqual([
			["changes", "bookmarks", "created", 0, "project_id"],
			["changes", "field_reports", "created", 1, "project_id"],
		]);
		// The governor of Kenya can report on a Kenyan project.
		const ok = await push(
			scope,
			{ changes: changesWith("field_reports", "created", [fieldReport(kenyan.id)]), lastPulledAt: timestamp },
			sub,
		);
		expect(ok.applied.field_reports?.created).toBe(1);
	});

	it("syncs the user's notification settings both ways; a delete resets them", async () => {
		const sub = uniqueUser("settings");
		const first = await pull(SYNC_USER, { last_pulled_at: null, schema_version: 2, page_size: 2000 }, sub);
		const settings = [...byId(first.changes, "notification_settings", "created").values()][0];
		expect(settings?.id).toBe(await notificationSettingsId(sub));
		const start = await syncedAt(sub, first.timestamp);
		const edited = {
			...settings,
			_status: "updated",
			_changed: "sectors,nations",
			sectors: JSON.stringify(["energy", "health", "energy"]),
			nations: JSON.stringify(["KE"]),
		};
		const result = await push(
			SYNC_USER,
			{ changes: changesWith("notification_settings", "updated", [edited]), lastPulledAt: start.timestamp },
			sub,
		);
		expect(result.applied).toEqual({ notification_settings: { created: 1, updated: 0, deleted: 0 } });
		const stored = await db(
			async (d) =>
				(
					await d.execute<{ sectors: string[]; nations: string[]; enabled: boolean }>(
						sql`select sectors, nations, enabled from notification_settings where user_id = ${sub}`,
					)
				).rows[0],
		);
		expect(stored).toEqual({ sectors: ["energy", "health"], nations: ["KE"], enabled: true });

		const next = await syncedAt(sub, start.timestamp);
		const pulled = new Map(
			next.pages.flatMap((p) => [...byId(p.changes, "notification_settings", "updated")]),
		);
		expect(pulled.get(settings?.id as string)?.sectors).toBe(JSON.stringify(["energy", "health"]));

		const someoneElses = { ...edited, id: await notificationSettingsId("someone-else") };
		const refused = await pushResponse(
			SYNC_USER,
			{
				changes: changesWith("notification_settings", "updated", [someoneElses]),
				lastPulledAt: next.timestamp,
			},
			sub,
		);
		expect(refused.status).toBe(403);

		const reset = await push(
			SYNC_USER,
			{
				changes: changesWith("notification_settings", "deleted", [settings?.id]),
				lastPulledAt: next.timestamp,
			},
			sub,
		);
		expect(reset.applied).toEqual({ notification_settings: { created: 0, updated: 0, deleted: 1 } });
		const after = await db(
			async (d) =>
				(
					await d.execute<{ sectors: string[] }>(
						sql`select sectors from notification_settings where user_id = ${sub}`,
					)
				).rows[0],
		);
		expect(after?.sectors).toEqual([]);
	});
});
