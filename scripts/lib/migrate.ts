import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";

const MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url).pathname;

interface Journal {
	entries: { idx: number; tag: string }[];
}

export interface MigrationResult {
	applied: string[];
	skipped: string[];
}

/**
 * Applies the drizzle-kit generated SQL in migrations/ in journal order. Each migration runs in its own
 * transaction under an advisory lock and is recorded with a hash of its SQL, so running this twice (or from
 * two processes at once) applies nothing twice, and an edited, already-applied migration is refused.
 */
export async function runMigrations(client: pg.Client, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
	const journal = JSON.parse(await readFile(join(dir, "meta", "_journal.json"), "utf8")) as Journal;
	await client.query(`create table if not exists covenant_migrations (
		tag text primary key,
		sha256 text not null,
		applied_at timestamptz not null default now()
	)`);
	const result: MigrationResult = { applied: [], skipped: [] };
	for (const { tag } of [...journal.entries].sort((a, b) => a.idx - b.idx)) {
		const sqlText = await readFile(join(dir, `${tag}.sql`), "utf8");
		const sha256 = createHash("sha256").update(sqlText).digest("hex");
		await client.query("begin");
		try {
			// Serialises concurrent migrators; released at commit/rollback.
			await client.query("select pg_advisory_xact_lock(7355608)");
			const done = await client.query<{ sha256: string }>(
				"select sha256 from covenant_migrations where tag = $1",
				[tag],
			);
			const previous = done.rows[0];
			if (previous) {
				if (previous.sha256 !== sha256) {
					throw new Error(
						`migration ${tag} was already applied but its file has changed since; add a new migration instead of editing an applied one`,
					);
				}
				result.skipped.push(tag);
				await client.query("commit");
				continue;
			}
			for (const statement of sqlText.split("--> statement-breakpoint")) {
				if (statement.trim()) await client.query(statement);
			}
			await client.query("insert into covenant_migrations (tag, sha256) values ($1, $2)", [tag, sha256]);
			await client.query("commit");
			result.applied.push(tag);
		} catch (error) {
			await client.query("rollback");
			throw error;
		}
	}
	return result;
}
