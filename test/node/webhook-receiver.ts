import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local webhook receiver, run in Node by test/global-setup.ts (tests in workerd reach it over 127.0.0.1) and
 * by the webhooks benchmark. Each receiving path is a named mailbox, so tests running at the same time never
 * see each other's messages:
 *
 * - `POST /hooks/<name>[/<any path>]`: records the request (headers and raw body) and answers per the mailbox's behaviour;
 * - `PUT /control/<name>` `{ failures, fail_status, fail_headers, status, headers, delay_ms }`: sets it
 *   (answer each message, told apart by its `webhook-id`, `failures` times with `fail_status`, then
 *   `status`: counting per message keeps a test's count right whatever else reaches the mailbox);
 * - `GET /control/<name>/requests`: what it received, oldest first;
 * - `DELETE /control/<name>`: forgets the mailbox.
 */

export interface ReceivedRequest {
	path: string;
	headers: Record<string, string>;
	body: string;
	/** The status the receiver answered. */
	status: number;
	received_at: number;
}

export interface ReceiverBehaviour {
	failures: number;
	fail_status: number;
	fail_headers: Record<string, string>;
	status: number;
	headers: Record<string, string>;
	delay_ms: number;
}

const DEFAULT_BEHAVIOUR: ReceiverBehaviour = {
	failures: 0,
	fail_status: 503,
	fail_headers: {},
	status: 200,
	headers: {},
	delay_ms: 0,
};

/** Memory bounds: a runaway test or benchmark cannot exhaust the Node process. */
const MAX_MAILBOXES = 10_000;
const MAX_REQUESTS_PER_MAILBOX = 20_000;
const MAX_BODY_BYTES = 1024 * 1024;

interface Mailbox {
	behaviour: ReceiverBehaviour;
	/** Failures answered so far, per webhook-id. */
	failed: Map<string, number>;
	requests: ReceivedRequest[];
	/** Requests answered with a 2xx, counted even past the recording bound (for the benchmark). */
	delivered: number;
}

export interface WebhookReceiver {
	/** `http://127.0.0.1:<port>` */
	url: string;
	/** Called for every 2xx answered (the benchmark measures latency with it). */
	onDelivered?: (request: ReceivedRequest) => void;
	close(): Promise<void>;
}

export async function startWebhookReceiver(
	options: { port?: number; record?: boolean } = {},
): Promise<WebhookReceiver> {
	const record = options.record ?? true;
	const mailboxes = new Map<string, Mailbox>();
	const mailbox = (name: string): Mailbox => {
		let box = mailboxes.get(name);
		if (!box) {
			if (mailboxes.size >= MAX_MAILBOXES) mailboxes.delete(mailboxes.keys().next().value as string);
			box = { behaviour: { ...DEFAULT_BEHAVIOUR }, failed: new Map(), requests: [], delivered: 0 };
			mailboxes.set(name, box);
		}
		return box;
	};

	const receiver: WebhookReceiver = { url: "", close: async () => {} };

	const server = createServer(async (req, res) => {
		try {
			const url = new URL(req.url ?? "/", "http://receiver");
			const hook = /^\/hooks\/([\w.-]{1,100})(\/[^?#]*)?$/.exec(url.pathname);
			const control = /^\/control\/([\w.-]{1,100})(\/requests)?$/.exec(url.pathname);
			if (hook && req.method === "POST") {
				const box = mailbox(hook[1] as string);
				const body = await readBody(req);
				const { behaviour } = box;
				if (behaviour.delay_ms > 0) await new Promise((resolve) => setTimeout(resolve, behaviour.delay_ms));
				const messageId = String(req.headers["webhook-id"] ?? "");
				const failedSoFar = box.failed.get(messageId) ?? 0;
				const failing = failedSoFar < behaviour.failures;
				if (failing && box.failed.size < MAX_REQUESTS_PER_MAILBOX) box.failed.set(messageId, failedSoFar + 1);
				const status = failing ? behaviour.fail_status : behaviour.status;
				const entry: ReceivedRequest = {
					path: url.pathname,
					headers: flatHeaders(req),
					body,
					status,
					received_at: Date.now(),
				};
				if (record && box.requests.length < MAX_REQUESTS_PER_MAILBOX) box.requests.push(entry);
				if (status >= 200 && status < 300) {
					box.delivered++;
					receiver.onDelivered?.(entry);
				}
				res.writeHead(status, {
					"content-type": "text/plain",
					...(failing ? behaviour.fail_headers : behaviour.headers),
				});
				res.end(failing ? `failing on purpose (${failedSoFar + 1} of ${behaviour.failures})` : "ok");
				return;
			}
			if (control && !control[2] && req.method === "PUT") {
				const box = mailbox(control[1] as string);
				box.behaviour = {
					...DEFAULT_BEHAVIOUR,
					...(JSON.parse(await readBody(req)) as Partial<ReceiverBehaviour>),
				};
				return json(res, 200, box.behaviour);
			}
			if (control?.[2] && req.method === "GET") {
				const box = mailboxes.get(control[1] as string);
				return json(res, 200, { requests: box?.requests ?? [], delivered: box?.delivered ?? 0 });
			}
			if (control && !control[2] && req.method === "DELETE") {
				mailboxes.delete(control[1] as string);
				return json(res, 204, null);
			}
			json(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
		} catch (error) {
			json(res, 400, { error: String(error) });
		}
	});
	server.keepAliveTimeout = 30_000;
	await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
	const { port } = server.address() as AddressInfo;
	receiver.url = `http://127.0.0.1:${port}`;
	receiver.close = () =>
		new Promise<void>((resolve) => {
			server.closeAllConnections();
			server.close(() => resolve());
		});
	return receiver;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
	const out: Record<string, string> = {};
	for (const [name, value] of Object.entries(req.headers)) {
		if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
	}
	return out;
}

async function readBody(req: IncomingMessage): Promise<string> {
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of req) {
		size += (chunk as Buffer).length;
		if (size > MAX_BODY_BYTES) throw new Error("body too large");
		chunks.push(chunk as Buffer);
	}
	return Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, body: unknown): void {
	if (status === 204) {
		res.writeHead(204).end();
		return;
	}
	res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
