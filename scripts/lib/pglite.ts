import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface EmbeddedPostgres {
	url: string;
	port: number;
	close(): Promise<void>;
}

/**
 * An embedded Postgres (PGlite, WASM) served over the Postgres wire protocol, for machines without a server.
 * `dataDir` persists between runs; omit it for an in-memory database. PGlite executes one query at a time;
 * the socket server multiplexes several client connections onto it.
 */
export async function startEmbeddedPostgres(
	options: { dataDir?: string; port?: number; maxConnections?: number } = {},
): Promise<EmbeddedPostgres> {
	const db = await PGlite.create(options.dataDir ? { dataDir: options.dataDir } : undefined);
	const server = new PGLiteSocketServer({
		db,
		host: "127.0.0.1",
		port: options.port ?? 0,
		maxConnections: options.maxConnections ?? 32,
	});
	await server.start();
	const port = await listeningPort(server, options.port ?? 0);
	return {
		url: `postgres://postgres@127.0.0.1:${port}/postgres`,
		port,
		async close() {
			await server.stop();
			await db.close();
		},
	};
}

async function listeningPort(server: PGLiteSocketServer, requested: number): Promise<number> {
	if (requested) return requested;
	// The server exposes the OS-assigned port through its underlying net.Server.
	const inner = (server as unknown as { server?: import("node:net").Server }).server;
	const address = inner?.address();
	if (address && typeof address === "object") return address.port;
	throw new Error("PGLiteSocketServer did not report its port");
}
