import { CompactSign, exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hashEntry, type LedgerEntry } from "../../workers/domain/ledger/entry.ts";
import {
	CHECKPOINT_TYPE,
	type CheckpointPayload,
	verifyCheckpoint,
} from "../../workers/domain/verify/checkpoint.ts";
import { verifyLedger } from "../../workers/domain/verify/ledger.ts";
import { verifyRemoteLedger } from "../../workers/domain/verify/remote.ts";
import type { GetCheckpointResponse } from "../../workers/routes/checkpoints/get-checkpoint.ts";
import type { CovenantKeysResponse } from "../../workers/routes/well-known/get-covenant-keys.ts";
import { bearer, uniqueSub } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import {
	deleteProjection,
	directContribution,
	fundTreasury,
	sleep,
	transfer,
	uniqueKey,
	uniquePeriod,
} from "./support.ts";

// This file's ledgers (no other test file writes to them).
const BUSY = "FJ"; // every kind of entry
const EMPTY = "TO"; // never written
const GROWING = "WS"; // checkpoints taken as it grows
const USED = [BUSY, EMPTY, GROWING];
afterAll(() => deleteProjection(USED));

let admin: Record<string, string>;
const PERIOD = uniquePeriod();

beforeAll(async () => {
	admin = await bearer("admin", uniqueSub("checkpoint-admin"));
	// FJ's ledger: funding, a direct contribution, a two-phase transfer posted in part, one voided, one expired,
	// a reversal and a batch: every phase and every balance rule the verifier replays.
	await transfer(BUSY, admin, fundTreasury(100_000));
	const contribution = await transfer(BUSY, admin, directContribution(20_000, PERIOD));
	await transfer(BUSY, admin, {
		id: "hold-posted",
		kind: "disbursement",
		debit_account: "disbursements",
		credit_account: "treasury",
		amount: 5_000,
		pending: true,
	});
	await action(BUSY, "hold-posted", "post", { amount: 3_000 });
	await transfer(BUSY, admin, { ...fundTreasury(1_000), id: "hold-voided", pending: true });
	await action(BUSY, "hold-voided", "void", {});
	await transfer(BUSY, admin, {
		...fundTreasury(700),
		id: "hold-expiring",
		pending: true,
		timeout_seconds: 1,
	});
	await action(BUSY, String(contribution.id), "reverse", {});
	const batch = await call(`/v1/nations/${BUSY}/ledger/transfers`, {
		method: "POST",
		headers: { ...admin, "idempotency-key": uniqueKey() },
		json: { transfers: [fundTreasury(10), directContribution(5, PERIOD)] },
	});
	expect(batch.status).toBe(201);
	await sleep(1_100); // the third hold times out; the next read of the ledger records its expiry
});

async function action(
	code: string,
	id: string,
	verb: "post" | "void" | "reverse",
	body: Record<string, unknown>,
) {
	const response = await call(`/v1/nations/${code}/ledger/transfers/${id}/${verb}`, {
		method: "POST",
		headers: { ...admin, "idempotency-key": uniqueKey() },
		json: body,
	});
	expect(response.status, await response.clone().text()).toBe(201);
}

async function publishedKeys(): Promise<JSONWebKeySet> {
	const response = await call("/.well-known/covenant-keys.json");
	expect(response.status).toBe(200);
	return json<CovenantKeysResponse>(response) as Promise<JSONWebKeySet>;
}

async function checkpointOf(code: string, headers = admin): Promise<GetCheckpointResponse> {
	const response = await call(`/v1/nations/${code}/ledger/checkpoint`, { headers });
	expect(response.status, await response.clone().text()).toBe(200);
	return json<GetCheckpointResponse>(response);
}

async function entriesOf(code: string, toSeq: number): Promise<LedgerEntry[]> {
	const entries: LedgerEntry[] = [];
	let cursor: string | null = null;
	do {
		const query = new URLSearchParams({ from_seq: "1", to_seq: String(toSeq), limit: "3" });
		if (cursor) query.set("cursor", cursor);
		const response = await call(`/v1/nations/${code}/ledger/entries?${query}`, { headers: admin });
		expect(response.status).toBe(200);
		const page = await json<{ data: LedgerEntry[]; next_cursor: string | null }>(response);
		entries.push(...page.data);
		cursor = page.next_cursor;
	} while (cursor);
	return entries;
}

/** The test run's signing key (global-setup generates one per run), to sign what a test needs signed. */
async function runSigningKey(): Promise<{ kid: string; key: CryptoKey }> {
	const [jwk] = JSON.parse(inject("checkpointSigningKeys")) as (JWK & { kid: string })[];
	if (!jwk) throw new Error("no checkpoint key provided");
	return { kid: jwk.kid, key: (await importJWK(jwk, "EdDSA")) as CryptoKey };
}

async function sign(payload: unknown, key: CryptoKey, kid: string, typ = CHECKPOINT_TYPE): Promise<string> {
	return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
		.setProtectedHeader({ alg: "EdDSA", kid, typ })
		.sign(key);
}

/** The worker itself as the service the remote verifier talks to, optionally rewriting its answers. */
function throughWorker(rewrite?: (path: string, body: unknown) => unknown) {
	return async (request: Request): Promise<Response> => {
		const url = new URL(request.url);
		const response = await call(`${url.pathname}${url.search}`, { headers: request.headers });
		if (!rewrite || !response.ok) return response;
		const body = rewrite(url.pathname, await response.json());
		return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
	};
}

describe("signed checkpoints and the verifier", () => {
	it("signs the ledger's head; the chain, the balances and the signature verify from the public API", async () => {
		const checkpoint = await checkpointOf(BUSY);
		expect(checkpoint).toMatchObject({ nation: BUSY, kid: "test-checkpoint-1" });
		expect(checkpoint.sequence).toBe(11); // 9 entries written, a batch of 2, and the expiry recorded on read
		const ledger = await json<{ head: { sequence: number; hash: string; balances_digest: string } }>(
			await call(`/v1/nations/${BUSY}/ledger`, { headers: admin }),
		);
		expect(ledger.head).toMatchObject({
			sequence: 11,
			hash: checkpoint.hash,
			balances_digest: checkpoint.balances_digest,
		});

		const signature = await verifyCheckpoint(checkpoint.jws, await publishedKeys());
		expect(signature).toMatchObject({ ok: true, kid: "test-checkpoint-1" });
		if (!signature.ok) return;
		// The plain members are a copy of the signed payload.
		expect(signature.checkpoint).toMatchObject({
			nation: BUSY,
			sequence: checkpoint.sequence,
			hash: checkpoint.hash,
			balances_digest: checkpoint.balances_digest,
			head_time: checkpoint.head_time,
			time: checkpoint.time,
		});
		const entries = await entriesOf(BUSY, checkpoint.sequence);
		expect(entries.map((e) => e.phase)).toEqual(
			expect.arrayContaining(["single", "pending", "post", "void", "expire"]),
		);
		expect(entries.some((e) => e.kind === "reversal")).toBe(true);
		expect(verifyLedger({ checkpoint: signature.checkpoint, entries })).toEqual({
			ok: true,
			nation: BUSY,
			sequence: 11,
			hash: checkpoint.hash,
			balances_digest: checkpoint.balances_digest,
			entries_verified: 11,
			extends: null,
		});
	});

	it("runs the verifier end to end against the service (what `npm run verify:ledger` does)", async () => {
		const outcome = await verifyRemoteLedger({
			baseUrl: "https://edge.test",
			nation: BUSY.toLowerCase(),
			token: admin.authorization?.replace("Bearer ", ""),
			fetch: throughWorker(),
			pageSize: 4,
		});
		expect(outcome).toMatchObject({
			stage: "ledger",
			ok: true,
			result: { ok: true, sequence: 11, entries_verified: 11 },
		});
	});

	it("verifies the checkpoint of an empty ledger: the genesis", async () => {
		const checkpoint = await checkpointOf(EMPTY);
		expect(checkpoint).toMatchObject({ sequence: 0, hash: "0".repeat(64), head_time: null });
		const signature = await verifyCheckpoint(checkpoint.jws, await publishedKeys());
		if (!signature.ok) throw new Error(signature.detail);
		expect(verifyLedger({ checkpoint: signature.checkpoint, entries: [] })).toMatchObject({
			ok: true,
			sequence: 0,
		});
	});

	describe("detects what was tampered with, naming the first bad sequence", () => {
		let checkpoint: CheckpointPayload;
		let entries: LedgerEntry[];
		beforeAll(async () => {
			const signed = await checkpointOf(BUSY);
			const checked = await verifyCheckpoint(signed.jws, await publishedKeys());
			if (!checked.ok) throw new Error(checked.detail);
			checkpoint = checked.checkpoint;
			entries = await entriesOf(BUSY, checkpoint.sequence);
		});
		const copy = () => entries.map((e) => structuredClone(e));

		it("an altered entry", () => {
			const altered = copy();
			(altered[3] as LedgerEntry).amount += 1;
			expect(verifyLedger({ checkpoint, entries: altered })).toMatchObject({
				ok: false,
				check: "chain",
				sequence: 4,
				reason: "hash_mismatch",
			});
			const relabelled = copy();
			(relabelled[5] as LedgerEntry).metadata = { note: "innocent" };
			expect(verifyLedger({ checkpoint, entries: relabelled })).toMatchObject({ ok: false, sequence: 6 });
		});

		it("an altered entry whose hash was recomputed (and the chain after it re-linked)", () => {
			const forged = copy();
			let prev = (forged[1] as LedgerEntry).hash;
			for (const [index, entry] of forged.entries()) {
				if (index < 2) continue;
				if (index === 2) entry.metadata = { forged: "yes" };
				entry.prev_hash = prev;
				entry.hash = hashEntry(entry);
				prev = entry.hash;
			}
			expect(verifyLedger({ checkpoint, entries: forged })).toMatchObject({
				ok: false,
				check: "head",
				sequence: 11,
				reason: "head_hash_mismatch",
			});
		});

		it("a dropped entry, in the middle or at the end", () => {
			const middle = copy().filter((e) => e.sequence !== 5);
			expect(verifyLedger({ checkpoint, entries: middle })).toMatchObject({
				ok: false,
				check: "chain",
				sequence: 5,
				reason: "missing_entry",
			});
			const end = copy().slice(0, -1);
			expect(verifyLedger({ checkpoint, entries: end })).toMatchObject({
				ok: false,
				sequence: 11,
				reason: "missing_entry",
			});
			const renumbered = copy().filter((e) => e.sequence !== 5);
			for (const entry of renumbered) if (entry.sequence > 5) entry.sequence -= 1;
			expect(verifyLedger({ checkpoint, entries: renumbered })).toMatchObject({ ok: false, sequence: 5 });
		});

		it("balances that do not follow from the entries", () => {
			expect(
				verifyLedger({ checkpoint: { ...checkpoint, balances_digest: "f".repeat(64) }, entries: copy() }),
			).toMatchObject({
				ok: false,
				check: "balances",
				sequence: 11,
				reason: "balances_digest_mismatch",
			});
			// An entry that overdraws the treasury cannot have been accepted by the ledger, even with a valid hash.
			const overdraft = copy();
			const first = overdraft[0] as LedgerEntry;
			first.debit_account = "disbursements";
			first.credit_account = "treasury";
			first.kind = "disbursement";
			first.hash = hashEntry(first);
			expect(verifyLedger({ checkpoint, entries: overdraft })).toMatchObject({
				ok: false,
				sequence: 1,
				check: "balances",
			});
		});

		it("a forged signature: another key under the published kid, an altered payload, an unknown kid, another typ", async () => {
			const keys = await publishedKeys();
			const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
			const forged = await sign(
				{ ...checkpoint, sequence: 12 },
				privateKey as CryptoKey,
				"test-checkpoint-1",
			);
			expect(await verifyCheckpoint(forged, keys)).toMatchObject({ ok: false, reason: "bad_signature" });

			const genuine = (await checkpointOf(BUSY)).jws;
			const [header, , signature] = genuine.split(".");
			const payload = btoa(JSON.stringify({ ...checkpoint, balances_digest: "0".repeat(64) }))
				.replace(/\+/g, "-")
				.replace(/\//g, "_")
				.replace(/=+$/, "");
			expect(await verifyCheckpoint(`${header}.${payload}.${signature}`, keys)).toMatchObject({
				ok: false,
				reason: "bad_signature",
			});
			expect(
				await verifyCheckpoint(await sign(checkpoint, privateKey as CryptoKey, "someone-else"), keys),
			).toMatchObject({
				ok: false,
				reason: "unknown_key",
			});
			const run = await runSigningKey();
			expect(await verifyCheckpoint(await sign(checkpoint, run.key, run.kid, "JWT"), keys)).toMatchObject({
				ok: false,
				reason: "wrong_type",
			});
			const unsigned = `${btoa(JSON.stringify({ alg: "none", typ: CHECKPOINT_TYPE, kid: run.kid })).replace(/=+$/, "")}.${payload}.`;
			expect((await verifyCheckpoint(unsigned, keys)).ok).toBe(false);
			expect(await verifyCheckpoint("not a jws", keys)).toMatchObject({ ok: false, reason: "malformed" });
		});

		it("the remote verifier reports each of them with the first bad sequence", async () => {
			const token = admin.authorization?.replace("Bearer ", "");
			const rewriteEntries = (change: (data: LedgerEntry[]) => LedgerEntry[]) =>
				throughWorker((path, body) => {
					if (!path.endsWith("/entries")) return body;
					const page = body as { data: LedgerEntry[] };
					return { ...page, data: change(page.data) };
				});
			const tampered = await verifyRemoteLedger({
				baseUrl: "https://edge.test",
				nation: BUSY,
				token,
				fetch: rewriteEntries((data) =>
					data.map((e) => (e.sequence === 7 ? { ...e, amount: e.amount + 100 } : e)),
				),
			});
			expect(tampered).toMatchObject({
				stage: "ledger",
				ok: false,
				result: { sequence: 7, reason: "hash_mismatch" },
			});
			const dropped = await verifyRemoteLedger({
				baseUrl: "https://edge.test",
				nation: BUSY,
				token,
				fetch: rewriteEntries((data) => data.filter((e) => e.sequence !== 2)),
			});
			expect(dropped).toMatchObject({
				stage: "ledger",
				ok: false,
				result: { sequence: 2, reason: "missing_entry" },
			});
			const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
			const forgedJws = await sign(checkpoint, privateKey as CryptoKey, "test-checkpoint-1");
			const forged = await verifyRemoteLedger({
				baseUrl: "https://edge.test",
				nation: BUSY,
				token,
				fetch: throughWorker((path, body) =>
					path.endsWith("/checkpoint") ? { ...(body as object), jws: forgedJws } : body,
				),
			});
			expect(forged).toMatchObject({
				stage: "signature",
				ok: false,
				which: "checkpoint",
				reason: "bad_signature",
			});
		});
	});

	describe("consistency between two checkpoints of a nation", () => {
		it("shows that a later checkpoint extends an earlier one, and catches a fork or a shortened ledger", async () => {
			const keys = await publishedKeys();
			await transfer(GROWING, admin, fundTreasury(500));
			await transfer(GROWING, admin, fundTreasury(600));
			const earlierJws = (await checkpointOf(GROWING)).jws;
			await transfer(GROWING, admin, fundTreasury(700));
			await transfer(GROWING, admin, directContribution(300, PERIOD));
			const later = await verifyCheckpoint((await checkpointOf(GROWING)).jws, keys);
			const earlier = await verifyCheckpoint(earlierJws, keys);
			if (!later.ok || !earlier.ok) throw new Error("checkpoints do not verify");
			const entries = await entriesOf(GROWING, later.checkpoint.sequence);
			expect(
				verifyLedger({ checkpoint: later.checkpoint, entries, earlier: earlier.checkpoint }),
			).toMatchObject({
				ok: true,
				sequence: 4,
				extends: { sequence: 2, hash: earlier.checkpoint.hash },
			});

			// A validly signed earlier checkpoint of another history (signed with the deployment's own key, as a
			// compromised or equivocating service would) does not extend.
			const run = await runSigningKey();
			const other = await sign({ ...earlier.checkpoint, hash: "a".repeat(64) }, run.key, run.kid);
			const otherChecked = await verifyCheckpoint(other, keys);
			if (!otherChecked.ok) throw new Error(otherChecked.detail);
			expect(
				verifyLedger({ checkpoint: later.checkpoint, entries, earlier: otherChecked.checkpoint }),
			).toMatchObject({
				ok: false,
				check: "consistency",
				sequence: 2,
				reason: "fork",
			});
			// The balances at the earlier head must match too.
			expect(
				verifyLedger({
					checkpoint: later.checkpoint,
					entries,
					earlier: { ...earlier.checkpoint, balances_digest: "b".repeat(64) },
				}),
			).toMatchObject({ ok: false, check: "consistency", reason: "balances_differ_from_earlier" });
			// A "later" checkpoint behind the earlier one means entries disappeared.
			expect(
				verifyLedger({ checkpoint: earlier.checkpoint, entries, earlier: later.checkpoint }),
			).toMatchObject({
				ok: false,
				check: "consistency",
				sequence: 3,
				reason: "ledger_shortened",
			});

			const remote = await verifyRemoteLedger({
				baseUrl: "https://edge.test",
				nation: GROWING,
				token: admin.authorization?.replace("Bearer ", ""),
				earlierCheckpoint: earlierJws,
				fetch: throughWorker(),
			});
			expect(remote).toMatchObject({ stage: "ledger", ok: true, result: { extends: { sequence: 2 } } });
			const remoteFork = await verifyRemoteLedger({
				baseUrl: "https://edge.test",
				nation: GROWING,
				token: admin.authorization?.replace("Bearer ", ""),
				earlierCheckpoint: other,
				fetch: throughWorker(),
			});
			expect(remoteFork).toMatchObject({
				stage: "ledger",
				ok: false,
				result: { check: "consistency", sequence: 2 },
			});
		});
	});

	describe("keys and rotation", () => {
		it("publishes the public keys only, cacheable, without authentication", async () => {
			const response = await call("/.well-known/covenant-keys.json");
			expect(response.status).toBe(200);
			expect(response.headers.get("cache-control")).toBe("public, max-age=300");
			const body = await json<CovenantKeysResponse>(response);
			expect(body.keys).toHaveLength(1);
			expect(body.keys[0]).toEqual({
				kty: "OKP",
				crv: "Ed25519",
				x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
				kid: "test-checkpoint-1",
				alg: "EdDSA",
				use: "sig",
			});
			expect(JSON.stringify(body)).not.toContain('"d"');
		});

		it("signs with the newest key and keeps verifying checkpoints of the retired one", async () => {
			const before = await checkpointOf(GROWING);
			const [old] = JSON.parse(inject("checkpointSigningKeys")) as JWK[];
			const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
			const fresh = await exportJWK(privateKey);
			const retiredPublicOnly = { kty: old?.kty, crv: old?.crv, x: old?.x, kid: old?.kid };
			const rotated = {
				CHECKPOINT_SIGNING_KEYS: JSON.stringify([{ ...fresh, kid: "test-checkpoint-2" }, retiredPublicOnly]),
			} as Partial<Env>;

			const keysResponse = await call("/.well-known/covenant-keys.json", {}, rotated);
			const keys = await json<CovenantKeysResponse>(keysResponse);
			expect(keys.keys.map((k) => k.kid)).toEqual(["test-checkpoint-2", "test-checkpoint-1"]);
			const after = await json<GetCheckpointResponse>(
				await call(`/v1/nations/${GROWING}/ledger/checkpoint`, { headers: admin }, rotated),
			);
			expect(after.kid).toBe("test-checkpoint-2");
			expect(await verifyCheckpoint(after.jws, keys as JSONWebKeySet)).toMatchObject({
				ok: true,
				kid: "test-checkpoint-2",
			});
			expect(await verifyCheckpoint(before.jws, keys as JSONWebKeySet)).toMatchObject({
				ok: true,
				kid: "test-checkpoint-1",
			});
		});

		it("answers 503 with the reason when no usable signing key is configured", async () => {
			for (const value of [
				"",
				"not json",
				"[]",
				JSON.stringify([{ kty: "OKP", crv: "Ed25519", x: "A".repeat(43), kid: "k" }]),
			]) {
				const overrides = { CHECKPOINT_SIGNING_KEYS: value } as Partial<Env>;
				const response = await call(
					`/v1/nations/${GROWING}/ledger/checkpoint`,
					{ headers: admin },
					overrides,
				);
				expect(response.status).toBe(503);
				expect(response.headers.get("content-type")).toBe("application/problem+json");
				expect((await json(response)).detail).toContain("CHECKPOINT_SIGNING_KEYS");
				expect((await call("/.well-known/covenant-keys.json", {}, overrides)).status).toBe(503);
			}
		});
	});

	describe("access and bad input", () => {
		it("answers 404 for an unknown nation, and for a nation outside the caller's scope", async () => {
			for (const code of ["XX", "ZZZ", "1A"]) {
				const response = await call(`/v1/nations/${code}/ledger/checkpoint`, { headers: admin });
				expect(response.status).toBe(404);
				expect((await json(response)).code).toBe("not_found");
			}
			const governor = await bearer(`nation:${GROWING}`, uniqueSub("governor"));
			expect((await call(`/v1/nations/${GROWING}/ledger/checkpoint`, { headers: governor })).status).toBe(
				200,
			);
			expect((await call(`/v1/nations/${BUSY}/ledger/checkpoint`, { headers: governor })).status).toBe(404);
			expect(
				(await call(`/v1/nations/${BUSY}/ledger/entries?from_seq=1&to_seq=2`, { headers: governor })).status,
			).toBe(404);
		});

		it("needs a token with ledger:read", async () => {
			expect((await call(`/v1/nations/${BUSY}/ledger/checkpoint`)).status).toBe(401);
			const partner = await bearer("partner", uniqueSub("partner"));
			expect((await call(`/v1/nations/${BUSY}/ledger/checkpoint`, { headers: partner })).status).toBe(403);
		});

		it("accepts from_seq/to_seq for the entries range and refuses a malformed one", async () => {
			const response = await call(`/v1/nations/${BUSY}/ledger/entries?from_seq=3&to_seq=5`, {
				headers: admin,
			});
			const page = await json<{ data: LedgerEntry[] }>(response);
			expect(page.data.map((e) => e.sequence)).toEqual([3, 4, 5]);
			for (const bad of ["from_seq=0", "to_seq=-1", "from_seq=abc"]) {
				expect((await call(`/v1/nations/${BUSY}/ledger/entries?${bad}`, { headers: admin })).status).toBe(
					400,
				);
			}
		});
	});
});
