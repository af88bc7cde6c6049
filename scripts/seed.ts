/**
 * `npm run db:seed`: upserts the committed seeds (seeds/data) into DATABASE_URL. Idempotent: a second run
 * changes nothing; a row the API changed since is set back to its seed values.
 */
import pg from "pg";
import { applySeeds } from "../seeds/apply.ts";
import { seedData } from "../seeds/index.ts";

const url = process.env.DATABASE_URL;
if (!url) {
	console.error("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/covenant)");
	process.exit(64);
}
const client = new pg.Client(url);
await client.connect();
try {
	await client.query("begin");
	const result = await applySeeds((text, params) => client.query(text, params as unknown[]), seedData);
	await client.query("commit");
	console.log(
		`seeds: ${result.nations} nations, ${result.sectors} sectors, ${result.projects} projects (changed: ${JSON.stringify(result.changed)})`,
	);
} catch (error) {
	await client.query("rollback");
	throw error;
} finally {
	await client.end();
}
