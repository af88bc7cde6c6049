import { createServer, type IncomingMessage, type Server } from "node:http";

/** One request the receiver got, as the workerd tests read it back. */
export interface RecordedRequest {
	seq: number;
	method: string;
	path: string;
	headers: Record<string, string>;
	/** The raw body, base64 (Web Push bodies are binary). */
	body: string;
}

export interface PushReceiver {
	url: string;
	close(): Promise<void>;
}

const MAX_RECORDED = 5000;

declare module "vitest" {
	export interface ProvidedContext {
		/** Base URL of the local push receiver (FCM, APNs, Web Push and an OAuth token endpoint). */
		pushReceiverUrl: string;
	}
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const chunk of req) chunks.push(chunk as Buffer);
	return Buffer.concat(chunks);
}

/**
 * A local stand-in for the push providers, answering as each real service does, so the notification tests
 * exercise real HTTP: `POST /oauth/token` (Google's JWT bearer grant), `POST /fcm/v1/projects/{p}/messages:send`,
 * `POST /apns/3/device/{token}`, `POST /webpush/{id}`. Tokens starting with `gone` (FCM, Web Push) or `dead`
 * (APNs, which are hex) are answered as unregistered; `flaky` FCM tokens get a 503. `GET /__requests` returns
 * what was received (filter with `?path_prefix=`).
 */
export async function startPushReceiver(): Promise<PushReceiver> {
	const recorded: RecordedRequest[] = [];
	let seq = 0;
	const server: Server = createServer(async (req, res) => {
		const url = new URL(req.url ?? "/", "http://receiver");
		const body = await readBody(req);
		const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
			res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(value));
		};
		if (req.method === "GET" && url.pathname === "/__requests") {
			const prefix = url.searchParams.get("path_prefix") ?? "";
			return json(
				200,
				recorded.filter((r) => r.path.startsWith(prefix)),
			);
		}
		seq++;
		recorded.push({
			seq,
			method: req.method ?? "",
			path: url.pathname,
			headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
			body: body.toString("base64"),
		});
		if (recorded.length > MAX_RECORDED) recorded.shift();

		if (req.method === "POST" && url.pathname === "/oauth/token") {
			const form = new URLSearchParams(body.toString());
			if (
				form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer" ||
				!form.get("assertion")
			) {
				return json(400, { error: "invalid_grant" });
			}
			return json(200, { access_token: `receiver-access-${seq}`, expires_in: 3600, token_type: "Bearer" });
		}
		const fcm = /^\/fcm\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname);
		if (req.method === "POST" && fcm) {
			const token = String(JSON.parse(body.toString() || "{}")?.message?.token ?? "");
			if (token.startsWith("gone")) {
				return json(404, {
					error: {
						code: 404,
						message: "Requested entity was not found.",
						status: "NOT_FOUND",
						details: [
							{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: "UNREGISTERED" },
						],
					},
				});
			}
			if (token.startsWith("flaky")) return json(503, { error: { code: 503, status: "UNAVAILABLE" } });
			return json(200, { name: `projects/${fcm[1]}/messages/${seq}` });
		}
		const apns = /^\/apns\/3\/device\/([0-9a-fA-F]+)$/.exec(url.pathname);
		if (req.method === "POST" && apns) {
			if (apns[1]?.startsWith("dead")) return json(410, { reason: "Unregistered", timestamp: Date.now() });
			res.writeHead(200, { "apns-id": `00000000-0000-4000-8000-${String(seq).padStart(12, "0")}` }).end();
			return;
		}
		const webpush = /^\/webpush\/([\w-]+)$/.exec(url.pathname);
		if (req.method === "POST" && webpush) {
			if (webpush[1]?.startsWith("gone")) return json(410, { reason: "subscription expired" });
			res.writeHead(201, { location: `/webpush/messages/${seq}` }).end();
			return;
		}
		json(404, { error: "no such endpoint on the push receiver" });
	});
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => resolve());
	});
	const address = server.address();
	const port = typeof address === "object" && address ? address.port : 0;
	return {
		url: `http://127.0.0.1:${port}`,
		close: () =>
			new Promise<void>((resolve) => {
				server.close(() => resolve());
				server.closeAllConnections();
			}),
	};
}
