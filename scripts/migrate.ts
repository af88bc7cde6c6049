/**
 * `npm run db:migrate`: applies migrations/ to DATABASE_URL (safe to re-run; `npm start` does this itself).
 */
import pg from "pg";
import { runMigrations } from "./lib/migrate.ts";

const url = process.env.DATABASE_URL;
if (!url) {
	console.error("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/covenant)");
	process.exit(64);
}
const client = new pg.Client(url);
await client.connect();
try {
	const result = await runMigrations(client);
	console.log(
		`migrations: ${result.applied.length} applied (${result.applied.join(", ") || "none"}), ${result.skipped.length} already applied`,
	);
} finally {
	await client.end();
}
