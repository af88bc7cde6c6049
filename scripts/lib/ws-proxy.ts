import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { WebSocketServer } from "ws";

export interface WsProxy {
	port: number;
	/** The value for the worker's NEON_WS_PROXY (host:port/path, as neonConfig.wsProxy expects). */
	wsProxy: string;
	close(): Promise<void>;
}

export interface WsProxyOptions {
	port?: number;
	host?: string;
	/** Only these Postgres host:port targets may be reached; the proxy is not an open relay. */
	allowedTargets?: (address: string) => boolean;
	log?: (message: string) => void;
}

/** The Postgres Terminate message: 'X' and a length of 4. */
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

function endsWithTerminate(data: Buffer): boolean {
	return data.length >= TERMINATE.length && data.subarray(data.length - TERMINATE.length).equals(TERMINATE);
}

const loopbackOnly = (address: string) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$/.test(address);

/**
 * A WebSocket-to-TCP proxy that speaks what Neon's proxy speaks: a client opens
 * `ws://host:port/v1?address=pghost:pgport` and every binary frame is a slice of the Postgres wire protocol.
 * It lets the worker use @neondatabase/serverless locally exactly as in production.
 */
export async function startWsProxy(options: WsProxyOptions = {}): Promise<WsProxy> {
	const host = options.host ?? "127.0.0.1";
	const allowed = options.allowedTargets ?? loopbackOnly;
	const http: Server = createServer((_req, res) => {
		res.writeHead(426, { "content-type": "text/plain" }).end("WebSocket upgrade required\n");
	});
	const wss = new WebSocketServer({ server: http, path: "/v1" });
	wss.on("connection", (ws, req) => {
		const address = new URL(req.url ?? "/", "http://proxy").searchParams.get("address") ?? "";
		const match = /^(.+):(\d+)$/.exec(address);
		if (!match || !allowed(address)) {
			ws.close(1008, `target not allowed: ${address || "(missing ?address=host:port)"}`);
			return;
		}
		const socket = connect({ host: match[1]?.replace(/^\[|\]$/g, ""), port: Number(match[2]) });
		socket.setNoDelay(true);
		const pending: Buffer[] = [];
		let connected = false;
		let endOnConnect = false;
		socket.on("connect", () => {
			connected = true;
			for (const chunk of pending.splice(0)) socket.write(chunk);
			if (endOnConnect) socket.end();
		});
		socket.on("data", (data) => {
			if (ws.readyState === ws.OPEN) ws.send(data);
		});
		socket.on("error", (error) => {
			options.log?.(`proxy: ${address}: ${error.message}`);
			ws.close(1011, "upstream error");
		});
		socket.on("close", () => ws.close());
		ws.on("message", (data: Buffer) => {
			// Postgres closes a connection once the client sends Terminate; PGlite's socket server does not, and
			// the Neon driver in workerd never closes its WebSocket either, so without this every request's
			// connection stayed open and PGlite refused all connections after its 32nd.
			const terminating = endsWithTerminate(data);
			if (connected) {
				socket.write(data);
				if (terminating) socket.end();
			} else {
				pending.push(data);
				if (terminating) endOnConnect = true;
			}
		});
		ws.on("close", () => socket.destroy());
		ws.on("error", () => socket.destroy());
	});
	await new Promise<void>((resolve, reject) => {
		http.once("error", reject);
		http.listen(options.port ?? 0, host, () => resolve());
	});
	const addressInfo = http.address();
	const port = typeof addressInfo === "object" && addressInfo ? addressInfo.port : 0;
	return {
		port,
		wsProxy: `${host}:${port}/v1`,
		close: () =>
			new Promise<void>((resolve) => {
				for (const client of wss.clients) client.terminate();
				wss.close();
				http.close(() => resolve());
				http.closeAllConnections();
			}),
	};
}
