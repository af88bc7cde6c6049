import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { withDb } from "../../workers/db/client.ts";
import type { AuditPageResponse } from "../../workers/routes/audit/list-audit.ts";
import type { AuditVerificationResponse } from "../../workers/routes/audit/verify-audit.ts";
import { bearer } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import { makeEvent, query, runBatch, runId } from "./support.ts";

async function appendEvents(tag: string) {
	const actor = `auditor-${tag}`;
	const events = [
		makeEvent({
			type: "covenant.projects.created",
			actor,
			subject: `projects/${tag}-1`,
			data: { project_id: `${tag}-1`, nation: "KE", sector: "energy" },
		}),
		makeEvent({
			type: "covenant.projects.updated",
			actor,
			subject: `projects/${tag}-1`,
			data: {
				project_id: `${tag}-1`,
				nation: "KE",
				before: { status: "proposed" },
				after: { status: "approved" },
			},
		}),
		makeEvent({
			type: "covenant.countries.updated",
			actor,
			subject: `nations/FR`,
			data: { nation: "FR", before: { covenant_status: "candidate" }, after: { covenant_status: "active" } },
		}),
		makeEvent({ type: "users.authenticated", actor, subject: `users/${tag}`, data: { user_id: tag } }),
	];
	const result = await runBatch(
		"audit",
		events.map((body) => ({ body })),
	);
	expect(result.explicitAcks).toHaveLength(events.length);
	return { actor, events };
}

describe("GET /v1/audit", () => {
	it("lists entries newest first, filtered by actor, action (or prefix), target and time, page by page", async () => {
		const tag = runId();
		const { actor, events } = await appendEvents(tag);
		const admin = await bearer("admin");
		const all = await json<AuditPageResponse>(await call(`/v1/audit?actor=${actor}`, { headers: admin }));
		expect(all.data).toHaveLength(4);
		expect(all.data.map((e) => e.seq)).toEqual([...all.data.map((e) => e.seq)].sort((a, b) => b - a));
		const update = all.data.find((e) => e.action === "covenant.projects.updated");
		expect(update).toMatchObject({
			actor,
			target: `projects/${tag}-1`,
			before: { status: "proposed" },
			after: { status: "approved" },
			request_id: events[1]?.requestid,
			nation: "KE",
		});

		const projects = await json<AuditPageResponse>(
			await call(`/v1/audit?actor=${actor}&action=${encodeURIComponent("covenant.projects.*")}`, {
				headers: admin,
			}),
		);
		expect(projects.data.map((e) => e.action).sort()).toEqual([
			"covenant.projects.created",
			"covenant.projects.updated",
		]);
		const target = await json<AuditPageResponse>(
			await call(`/v1/audit?target=${encodeURIComponent("nations/FR")}&actor=${actor}`, { headers: admin }),
		);
		expect(target.data.map((e) => e.action)).toEqual(["covenant.countries.updated"]);
		const future = await json<AuditPageResponse>(
			await call(
				`/v1/audit?actor=${actor}&from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
				{ headers: admin },
			),
		);
		expect(future.data).toEqual([]);

		const first = await json<AuditPageResponse>(
			await call(`/v1/audit?actor=${actor}&limit=3`, { headers: admin }),
		);
		expect(first.data).toHaveLength(3);
		const second = await json<AuditPageResponse>(
			await call(`/v1/audit?actor=${actor}&limit=3&cursor=${first.next_cursor}`, { headers: admin }),
		);
		expect([...first.data, ...second.data].map((e) => e.seq)).toEqual(all.data.map((e) => e.seq));
		expect(second.next_cursor).toBeNull();
		// A cursor replayed with other filters is refused rather than silently wrong.
		expect(
			(await call(`/v1/audit?actor=someone-else&cursor=${first.next_cursor}`, { headers: admin })).status,
		).toBe(400);
	});

	it("shows a scoped reader only the entries of their nation, and refuses everyone else", async () => {
		const tag = runId();
		const { actor } = await appendEvents(tag);
		const kenyaAuditor = await bearer("nation:KE audit:read");
		const page = await json<AuditPageResponse>(
			await call(`/v1/audit?actor=${actor}`, { headers: kenyaAuditor }),
		);
		expect(page.data.map((e) => e.nation)).toEqual(["KE", "KE"]);
		expect((await call("/v1/audit")).status).toBe(401);
		expect((await call("/v1/audit", { headers: await bearer("viewer") })).status).toBe(403);
		expect((await call("/v1/audit?action=a*b*", { headers: await bearer("admin") })).status).toBe(400);
	});
});

describe("GET /v1/audit/verify", () => {
	it("reports an intact chain, then the first broken link when a row is edited", async () => {
		const tag = runId();
		const { actor } = await appendEvents(tag);
		const admin = await bearer("admin");
		const rows = await query<{ seq: number }>(
			sql`select seq::int as seq from audit_log where actor = ${actor} order by seq`,
		);
		const seqs = rows.map((r) => Number(r.seq));
		const from = seqs[0] as number;
		const verify = async (query = `from_seq=${from}&limit=${seqs.length}`) =>
			json<AuditVerificationResponse>(await call(`/v1/audit/verify?${query}`, { headers: admin }));

		const intact = await verify();
		expect(intact).toMatchObject({ ok: true, checked: seqs.length, first_broken: null });

		// Tamper the way an attacker with database access would: around the append-only trigger.
		const edited = seqs[1] as number;
		try {
			await runTampered(sql`update audit_log set actor = 'someone-innocent' where seq = ${edited}`);
			const broken = await verify();
			expect(broken.ok).toBe(false);
			expect(broken.first_broken).toMatchObject({ seq: edited, reason: "hash_mismatch" });
		} finally {
			await runTampered(sql`update audit_log set actor = ${actor} where seq = ${edited}`);
		}
		expect((await verify()).ok).toBe(true);

		// A row removed from the middle is a gap at its position.
		const removed = seqs[2] as number;
		await runTampered(
			sql`create table if not exists audit_log_removed_for_test as select * from audit_log where false`,
		);
		try {
			await runTampered(sql`
				with gone as (delete from audit_log where seq = ${removed} returning *)
				insert into audit_log_removed_for_test select * from gone`);
			expect((await verify()).first_broken).toMatchObject({ seq: removed, reason: "sequence_gap" });
		} finally {
			await runTampered(
				sql`insert into audit_log select * from audit_log_removed_for_test where seq = ${removed}`,
			);
			await runTampered(sql`drop table audit_log_removed_for_test`);
		}
		expect((await verify()).ok).toBe(true);
	});

	it("refuses the trigger-protected edits, scoped verifiers and a start past the head", async () => {
		const tag = runId();
		const { actor } = await appendEvents(tag);
		const refusal = (statement: ReturnType<typeof sql>) =>
			query(statement).then(
				() => "allowed",
				(error: Error) => String(error.cause),
			);
		expect(await refusal(sql`update audit_log set actor = 'x' where actor = ${actor}`)).toMatch(
			/append-only/,
		);
		expect(await refusal(sql`delete from audit_log where actor = ${actor}`)).toMatch(/append-only/);
		expect((await call("/v1/audit/verify", { headers: await bearer("nation:KE audit:read") })).status).toBe(
			403,
		);
		expect(
			(await call("/v1/audit/verify?from_seq=999999999", { headers: await bearer("admin") })).status,
		).toBe(400);
		expect((await call("/v1/audit/verify")).status).toBe(401);
	});
});

/** Runs a statement with triggers disabled for its transaction (superuser only): what tampering looks like. */
async function runTampered(statement: ReturnType<typeof sql>) {
	await withDb(env, (db) =>
		db.transaction(async (tx) => {
			await tx.execute(sql`set local session_replication_role = replica`);
			await tx.execute(statement);
		}),
	);
}
