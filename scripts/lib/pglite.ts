import { createServer, type Server, type Socket } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketHandler } from "@electric-sql/pglite-socket";

export interface EmbeddedPostgres {
	url: string;
	port: number;
	close(): Promise<void>;
}

type QueueManager = ConstructorParameters<typeof PGLiteSocketHandler>[0]["queryQueue"];

interface Job {
	handlerId: number;
	message: Uint8Array;
	onData: (data: Uint8Array) => void;
	resolve: (bytes: number) => void;
	reject: (error: unknown) => void;
}

/**
 * PGlite is one Postgres session. pglite-socket's own queue hands that session to another connection after
 * any message unless a transaction is open, so one connection's Parse can land between another's Parse and
 * Bind ("bind message supplies 1 parameters, but prepared statement requires 6"). This queue lends the session
 * to one connection for a whole exchange: until its Sync, simple Query, Terminate or startup has run with no
 * transaction open. Other connections wait their turn.
 */
class SessionQueue {
	private owner: number | null = null;
	private readonly waiting: Job[] = [];
	private running = false;
	private readonly db: PGlite;

	constructor(db: PGlite) {
		this.db = db;
	}

	enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
		return new Promise((resolve, reject) => {
			this.waiting.push({ handlerId, message, onData, resolve, reject });
			void this.pump();
		});
	}

	private async pump(): Promise<void> {
		if (this.running) return;
		this.running = true;
		try {
			for (;;) {
				const index = this.owner === null ? 0 : this.waiting.findIndex((job) => job.handlerId === this.owner);
				if (index < 0 || this.waiting.length === 0) break;
				const [job] = this.waiting.splice(index, 1);
				if (!job) break;
				this.owner = job.handlerId;
				let bytes = 0;
				try {
					await this.db.runExclusive(() =>
						this.db.execProtocolRawStream(job.message, {
							onRawData: (data: Uint8Array) => {
								bytes += data.length;
								job.onData(data);
							},
						}),
					);
					job.resolve(bytes);
				} catch (error) {
					job.reject(error);
				}
				if (endsExchange(job.message) && !this.db.isInTransaction()) this.owner = null;
			}
		} finally {
			this.running = false;
		}
	}

	getQueueLength(): number {
		return this.waiting.length;
	}

	clearQueueForHandler(handlerId: number): void {
		for (let i = this.waiting.length - 1; i >= 0; i--) {
			const job = this.waiting[i];
			if (job?.handlerId === handlerId) {
				this.waiting.splice(i, 1);
				job.reject(new Error("connection closed"));
			}
		}
	}

	/** A connection that went away gives the session back, rolling back a transaction it left open. */
	async clearTransactionIfNeeded(handlerId: number): Promise<void> {
		if (this.owner !== handlerId) return;
		if (this.db.isInTransaction()) await this.db.exec("ROLLBACK");
		this.owner = null;
		void this.pump();
	}
}

/** Sync ('S'), simple Query ('Q'), Terminate ('X') and the untyped startup message end a client exchange. */
function endsExchange(message: Uint8Array): boolean {
	const type = message[0];
	return type === 0 || type === 0x53 || type === 0x51 || type === 0x58;
}

/**
 * An embedded Postgres (PGlite, WASM) served over the Postgres wire protocol, for machines without a server.
 * `dataDir` persists between runs; omit it for an in-memory database. Any number of client connections share
 * PGlite's single session through SessionQueue.
 */
export async function startEmbeddedPostgres(
	options: { dataDir?: string; port?: number } = {},
): Promise<EmbeddedPostgres> {
	const db = await PGlite.create(options.dataDir ? { dataDir: options.dataDir } : undefined);
	const queue = new SessionQueue(db);
	const sockets = new Set<Socket>();
	const server: Server = createServer((socket) => {
		sockets.add(socket);
		socket.on("close", () => sockets.delete(socket));
		const handler = new PGLiteSocketHandler({
			queryQueue: queue as unknown as QueueManager,
			closeOnDetach: true,
		});
		handler.attach(socket).catch(() => socket.destroy());
	});
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
	});
	const address = server.address();
	const port = typeof address === "object" && address ? address.port : (options.port ?? 0);
	return {
		url: `postgres://postgres@127.0.0.1:${port}/postgres`,
		port,
		async close() {
			for (const socket of sockets) socket.destroy();
			await new Promise<void>((resolve) => server.close(() => resolve()));
			await db.close();
		},
	};
}
