import pg from "pg";
const applySeeds: any = null;
const seedData: any = null;
import { runMigrations } from "./migrate.ts";
import { startEmbeddedPostgres } from "./pglite.ts";

export interface PreparedDatabase {
	url: string;
	kind: "postgres" | "pglite";
	/** Drops the fresh database (server) or stops the embedded one. */
	dispose(): Promise<void>;
}

/**
 * A migrated (and optionally seeded) database. With `serverUrl`, `fresh` creates a new, uniquely named database
 * on that server; without it, an embedded PGlite (in memory, or persisted in `dataDir`) is started.
 */
export async function prepareDatabase(options: {
	serverUrl?: string;
	fresh?: boolean;
	seed?: boolean;
	dataDir?: string;
	port?: number;
	log?: (line: string) => void;
}): Promise<PreparedDatabase> {
	const log = options.log ?? (() => {});
	let url: string;
	let kind: PreparedDatabase["kind"];
	let dispose: () => Promise<void>;
	if (options.serverUrl) {
		kind = "postgres";
		if (options.fresh) {
			const name = `covenant_test_${Date.now().toString(36)}_${process.pid}`;
			const admin = new pg.Client(options.serverUrl);
			await admin.connect();
			await admin.query(`create database ${name}`);
			await admin.end();
			const u = new URL(options.serverUrl);
			u.pathname = `/${name}`;
			url = u.toString();
			dispose = async () => {
				const drop = new pg.Client(options.serverUrl);
				await drop.connect();
				await drop.query(`drop database if exists ${name} with (force)`);
				await drop.end();
			};
		} else {
			url = options.serverUrl;
			dispose = async () => {};
		}
	} else {
		kind = "pglite";
		const embedded = await startEmbeddedPostgres({ dataDir: options.dataDir, port: options.port });
		url = embedded.url;
		dispose = () => embedded.close();
	}
	const client = new pg.Client(url);
	await client.connect();
	try {
		const migrations = await runMigrations(client);
		log(`migrations: ${migrations.applied.length} applied, ${migrations.skipped.length} already applied`);
		if (options.seed) {
			const counts = await applySeeds((text, params) => client.query(text, params as unknown[]), seedData);
			log(`seeds: ${counts.nations} nations, ${counts.sectors} sectors, ${counts.projects} projects`);
		}
	} finally {
		await client.end();
	}
	return { url, kind, dispose };
}
