/**
 * `npm run db:migrate`: applies migrations/ to DATABASE_URL (safe to re-run; `npm start` does this itself).
 */
import { connectToDatabaseUrl } from "./lib/database.ts";
import { runMigrations } from "./lib/migrate.ts";

const client = await connectToDatabaseUrl();
try {
	const result = await runMigrations(client);
	console.log(
		`migrations: ${result.applied.length} applied (${result.applied.join(", ") || "none"}), ${result.skipped.length} already applied`,
	);
} finally {
	await client.end();
}
