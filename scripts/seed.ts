/**
 * `npm run db:seed`: upserts the committed seeds (seeds/data) into DATABASE_URL. Idempotent: a second run
 * changes nothing; a row the API changed since is set back to its seed values.
 */
import { connectToDatabaseUrl } from "./lib/database.ts";
import { applySeeds } from "../seeds/apply.ts";
import { seedData } from "../seeds/index.ts";

const client = await connectToDatabaseUrl();
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
