import pg from "pg";
import { applySeeds } from "../../seeds/apply.ts";
import { seedData } from "../../seeds/index.ts";
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
	/** `"if-empty"` seeds only a database without nations, so a restart keeps what the API changed since. */
	seed?: boolean | "if-empty";
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
		const empty = async () =>
			Number((await client.query("select count(*)::int as n from nations")).rows[0]?.n) === 0;
		if (options.seed === true || (options.seed === "if-empty" && (await empty()))) {
			const counts = await applySeeds((text, params) => client.query(text, params as unknown[]), seedData);
			log(`seeds: ${counts.nations} nations, ${counts.sectors} sectors, ${counts.projects} projects`);
		} else if (options.seed === "if-empty") {
			log("seeds: database already holds data; kept as it is");
		}
	} finally {
		await client.end();
	}
	return { url, kind, dispose };
}

/** A connected client for the DATABASE_URL of the environment; exits with a usage error when it is unset. */
export async function connectToDatabaseUrl(): Promise<pg.Client> {
	const url = process.env.DATABASE_URL;
	if (!url) {
		console.error("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/covenant)");
		process.exit(64);
	}
	const client = new pg.Client(url);
	await client.connect();
	return client;
}
