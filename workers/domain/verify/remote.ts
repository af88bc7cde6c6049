import type { JSONWebKeySet } from "jose";
import { type CheckpointPayload, verifyCheckpoint } from "./checkpoint.ts";
import { type LedgerVerification, verifyLedger } from "./ledger.ts";

/**
 * Verifies a nation's ledger from outside, through the public HTTP API only:
 *
 * 1. GET /.well-known/covenant-keys.json                      the published checkpoint keys
 * 2. GET /v1/nations/{code}/ledger/checkpoint                 a fresh signed checkpoint
 * 3. GET /v1/nations/{code}/ledger/entries?from_seq=1&to_seq=N every entry up to it, page by page
 *
 * then checks the checkpoint's signature, the chain, the balances and, when an earlier checkpoint is given
 * (a JWS saved from an earlier run), that the new one extends it. Its only I/O is the `fetch` it is given,
 * so the CLI (scripts/verify-ledger.ts) passes the global fetch and the tests pass the worker's own handler.
 */
export interface RemoteVerifyOptions {
	baseUrl: string;
	nation: string;
	/** A bearer token with ledger:read on the nation. */
	token?: string;
	/** A checkpoint JWS saved earlier: the new checkpoint must extend it. */
	earlierCheckpoint?: string;
	fetch?: (request: Request) => Promise<Response>;
	/** Entries per page (the API allows up to 500). */
	pageSize?: number;
}

export type RemoteVerification =
	| { stage: "fetch"; ok: false; detail: string; status?: number }
	| { stage: "signature"; ok: false; which: "checkpoint" | "earlier"; reason: string; detail: string }
	| {
			stage: "ledger";
			ok: boolean;
			checkpoint: { jws: string; kid: string; payload: CheckpointPayload };
			result: LedgerVerification;
	  };

export class FetchError extends Error {
	readonly status?: number;
	constructor(message: string, status?: number) {
		super(message);
		this.name = "FetchError";
		this.status = status;
	}
}

export async function verifyRemoteLedger(options: RemoteVerifyOptions): Promise<RemoteVerification> {
	const doFetch = options.fetch ?? ((request: Request) => fetch(request));
	const base = options.baseUrl.replace(/\/+$/, "");
	const getJson = async (path: string, authenticated: boolean): Promise<unknown> => {
		const headers = new Headers({ accept: "application/json" });
		if (authenticated && options.token) headers.set("authorization", `Bearer ${options.token}`);
		let response: Response;
		try {
			response = await doFetch(new Request(`${base}${path}`, { headers }));
		} catch (error) {
			throw new FetchError(`GET ${path} failed: ${String(error)}`);
		}
		if (!response.ok) {
			const text = await response.text().catch(() => "");
			let detail = text.slice(0, 300);
			try {
				detail = (JSON.parse(text) as { detail?: string }).detail ?? detail;
			} catch {}
			throw new FetchError(`GET ${path} answered ${response.status}: ${detail}`, response.status);
		}
		return response.json();
	};

	const code = encodeURIComponent(options.nation);
	let keys: JSONWebKeySet;
	let jws: string;
	try {
		keys = (await getJson("/.well-known/covenant-keys.json", false)) as JSONWebKeySet;
		if (!Array.isArray(keys?.keys)) throw new FetchError("/.well-known/covenant-keys.json is not a JWKS");
		const body = (await getJson(`/v1/nations/${code}/ledger/checkpoint`, true)) as { jws?: unknown };
		if (typeof body?.jws !== "string") throw new FetchError("the checkpoint response carries no jws");
		jws = body.jws;
	} catch (error) {
		return fetchFailure(error);
	}

	const checked = await verifyCheckpoint(jws, keys);
	if (!checked.ok)
		return {
			stage: "signature",
			ok: false,
			which: "checkpoint",
			reason: checked.reason,
			detail: checked.detail,
		};
	let earlier: CheckpointPayload | undefined;
	if (options.earlierCheckpoint !== undefined) {
		const earlierChecked = await verifyCheckpoint(options.earlierCheckpoint.trim(), keys);
		if (!earlierChecked.ok) {
			return {
				stage: "signature",
				ok: false,
				which: "earlier",
				reason: earlierChecked.reason,
				detail: earlierChecked.detail,
			};
		}
		earlier = earlierChecked.checkpoint;
	}

	const checkpoint = checked.checkpoint;
	const entries: unknown[] = [];
	try {
		const limit = options.pageSize ?? 500;
		let cursor: string | null = null;
		while (checkpoint.sequence > 0) {
			const query = new URLSearchParams({
				from_seq: "1",
				to_seq: String(checkpoint.sequence),
				limit: String(limit),
			});
			if (cursor) query.set("cursor", cursor);
			const page = (await getJson(`/v1/nations/${code}/ledger/entries?${query}`, true)) as {
				data?: unknown;
				next_cursor?: unknown;
			};
			if (!Array.isArray(page?.data)) throw new FetchError("the entries response carries no data array");
			entries.push(...page.data);
			cursor = typeof page.next_cursor === "string" ? page.next_cursor : null;
			if (cursor === null || page.data.length === 0) break;
		}
	} catch (error) {
		return fetchFailure(error);
	}
	const result = verifyLedger({ checkpoint, entries, earlier });
	return {
		stage: "ledger",
		ok: result.ok,
		checkpoint: { jws, kid: checked.kid, payload: checkpoint },
		result,
	};
}

function fetchFailure(error: unknown): RemoteVerification {
	if (error instanceof FetchError)
		return { stage: "fetch", ok: false, detail: error.message, status: error.status };
	return { stage: "fetch", ok: false, detail: String(error) };
}
