import { afterAll, describe, expect, it } from "vitest";
import type { BatchResponse, TransferResponse } from "../../workers/routes/ledger/schema.ts";
import type { GetLedgerResponse } from "../../workers/routes/ledger/get-ledger.ts";
import type { ListEntriesResponse } from "../../workers/routes/ledger/list-entries.ts";
import type { Problem } from "../../workers/lib/problem.ts";
import { bearer, uniqueSub } from "../support/auth.ts";
import { call, json } from "../support/http.ts";
import { deleteProjection, key } from "./support.ts";

const USED: string[] = [];
afterAll(() => deleteProjection(USED));

/** An admin client for one nation's ledger paths (each test owns its nation). */
async function client(iso2: string, scope = "admin") {
	USED.push(iso2);
	const auth = await bearer(scope, uniqueSub("ledger"));
	const base = `/v1/nations/${iso2.toLowerCase()}/ledger`;
	return {
		get: (path = "") => call(`${base}${path}`, { headers: auth }),
		post: (path: string, body: unknown, idempotencyKey: string | null = key()) =>
			call(`${base}${path}`, {
				method: "POST",
				headers: { ...auth, ...(idempotencyKey === null ? {} : { "idempotency-key": idempotencyKey }) },
				json: body,
			}),
	};
}

const fund = (amount: number, extra: Record<string, unknown> = {}) => ({
	kind: "adjustment",
	debit_account: "treasury",
	credit_account: "national_funding",
	amount,
	...extra,
});
const disburse = (amount: number, extra: Record<string, unknown> = {}) => ({
	kind: "disbursement",
	debit_account: "disbursements",
	credit_account: "treasury",
	amount,
	...extra,
});

describe("ledger over HTTP", () => {
	it("records a transfer, shows balances and the transfer, and lists entries with a cursor", async () => {
		const c = await client("CM");
		const created = await c.post(
			"/transfers",
			fund(250_000, { id: "cm-fund", reference: { period: "2026-Q1" } }),
		);
		expect(created.status).toBe(201);
		const transfer = await json<TransferResponse>(created);
		expect(transfer).toMatchObject({ id: "cm-fund", nation: "CM", sequence: 1, status: "posted" });
		expect(transfer.reference).toEqual({ project_id: null, distribution_id: null, period: "2026-Q1" });

		await c.post("/transfers", disburse(1_000));
		await c.post("/transfers", disburse(2_000));

		const ledger = await json<GetLedgerResponse>(await c.get());
		expect(ledger.nation).toBe("CM");
		expect(ledger.accounts.find((a) => a.code === "treasury")?.balance).toBe(247_000);
		expect(ledger.totals.debits_posted).toBe(ledger.totals.credits_posted);
		expect(ledger.head.sequence).toBe(3);
		expect(ledger.projection).toHaveProperty("lag_entries");

		expect(await json<TransferResponse>(await c.get("/transfers/cm-fund"))).toMatchObject({ id: "cm-fund" });
		// alpha-3 resolves to the same ledger
		USED.push("CM");
		const viaIso3 = await call("/v1/nations/CMR/ledger", { headers: await bearer("admin") });
		expect((await json<GetLedgerResponse>(viaIso3)).head.sequence).toBe(3);

		const first = await json<ListEntriesResponse>(await c.get("/entries?limit=2"));
		expect(first.data.map((e) => e.sequence)).toEqual([1, 2]);
		expect(first.next_cursor).not.toBeNull();
		const rest = await json<ListEntriesResponse>(await c.get(`/entries?limit=2&cursor=${first.next_cursor}`));
		expect(rest).toMatchObject({ data: [{ sequence: 3 }], next_cursor: null });
		const filtered = await json<ListEntriesResponse>(
			await c.get("/entries?kind=adjustment&account=treasury"),
		);
		expect(filtered.data.map((e) => e.id)).toEqual(["cm-fund"]);
		const none = await json<ListEntriesResponse>(await c.get("/entries?since=2100-01-01T00:00:00Z"));
		expect(none.data).toEqual([]);
	});

	it("takes a batch, and two-phase post/void/reverse", async () => {
		const c = await client("NG");
		const batch = await c.post("/transfers", {
			transfers: [
				fund(1_000),
				disburse(300, { id: "ng-hold", pending: true }),
				disburse(100, { id: "ng-spend" }),
			],
		});
		expect(batch.status).toBe(201);
		expect((await json<BatchResponse>(batch)).created).toBe(3);

		const posted = await c.post("/transfers/ng-hold/post", { amount: 200 });
		expect(posted.status).toBe(201);
		expect(await json<TransferResponse>(posted)).toMatchObject({ id: "ng-hold~post", amount: 200 });
		const voidAfterPost = await c.post("/transfers/ng-hold/void", {});
		expect(voidAfterPost.status).toBe(409);
		expect(await json<Problem>(voidAfterPost)).toMatchObject({ reason: "pending_transfer_already_posted" });

		const reversed = await c.post("/transfers/ng-spend/reverse", { metadata: { reason: "error" } });
		expect(reversed.status).toBe(201);
		const reversal = await json<TransferResponse>(reversed);
		expect(reversal).toMatchObject({
			kind: "reversal",
			reverses_id: "ng-spend",
			metadata: { reason: "error" },
		});
		const again = await c.post(`/transfers/${reversal.id}/reverse`, {});
		expect(again.status).toBe(422);
		expect(await json<Problem>(again)).toMatchObject({
			code: "unprocessable",
			reason: "cannot_reverse_reversal",
		});
	});

	it("replays the stored response for a retried key and refuses the key with another body", async () => {
		const c = await client("ET");
		const k = key();
		const first = await c.post("/transfers", fund(900), k);
		const retry = await c.post("/transfers", fund(900), k);
		expect(retry.status).toBe(first.status);
		expect(retry.headers.get("idempotent-replayed")).toBe("true");
		expect(await retry.json()).toEqual(await first.json());
		const changed = await c.post("/transfers", fund(901), k);
		expect(changed.status).toBe(422);
		expect(await json<Problem>(changed)).toMatchObject({ code: "idempotency_key_reused" });
		// the same body on another path is another request
		const elsewhere = await c.post("/transfers/anything/void", {}, k);
		expect(elsewhere.status).toBe(422);
	});

	it("keeps each caller's keys apart: another principal's same key is a new request", async () => {
		const alice = await client("ER");
		const bob = await client("ER");
		const k = key();
		const first = await json<TransferResponse>(await alice.post("/transfers", fund(700), k));
		// Bob happens to choose the same key: his transfer is recorded, not Alice's replayed to him.
		const other = await bob.post("/transfers", fund(700), k);
		expect(other.status).toBe(201);
		expect(other.headers.get("idempotent-replayed")).toBeNull();
		expect((await json<TransferResponse>(other)).id).not.toBe(first.id);
		// Nor is his different body refused because of her key.
		expect((await bob.post("/transfers", fund(5), key())).status).toBe(201);
		expect((await bob.post("/transfers", fund(701), k)).status).toBe(422);
		// Alice's retry still gets her first response.
		const retry = await alice.post("/transfers", fund(700), k);
		expect(retry.headers.get("idempotent-replayed")).toBe("true");
		expect((await json<TransferResponse>(retry)).id).toBe(first.id);
		const ledger = await json<GetLedgerResponse>(await alice.get());
		expect(ledger.head.sequence).toBe(3);
	});
});

describe("bad input: a specific problem each, nothing applied", () => {
	it("refuses bad amounts, accounts and pairs with 400 naming the field", async () => {
		const c = await client("SD");
		const cases: [unknown, (string | number)[]][] = [
			[fund(0), ["amount"]],
			[fund(-5), ["amount"]],
			[fund(1.5), ["amount"]],
			[fund(2 ** 53), ["amount"]],
			[{ ...fund(1), amount: "100" }, ["amount"]],
			[{ ...fund(1), debit_account: "cash" }, ["debit_account"]],
			[{ ...fund(1), credit_account: "treasury" }, ["credit_account"]],
			[{ ...fund(1), credit_account: "disbursements" }, ["credit_account"]],
			[{ ...fund(1), kind: "reversal" }, ["kind"]],
			[{ ...fund(1), currency: "EUR" }, ["currency"]],
			[{ transfers: [fund(1), fund(1), { ...fund(1), amount: 0.5 }] }, ["transfers", 2, "amount"]],
			[{ transfers: [] }, ["transfers"]],
		];
		for (const [body, path] of cases) {
			const response = await c.post("/transfers", body);
			expect(response.status, JSON.stringify(body)).toBe(400);
			const problem = await json<Problem>(response);
			expect(response.headers.get("content-type")).toMatch(/problem\+json/);
			expect(
				problem.errors?.map((e) => e.path),
				JSON.stringify(body),
			).toContainEqual(path);
		}
		expect((await json<GetLedgerResponse>(await c.get())).head.sequence).toBe(0);
	});

	it("refuses an overdraft and a batch with one refused item with 422, applying nothing", async () => {
		const c = await client("SO");
		await c.post("/transfers", fund(100));
		const overdraft = await c.post("/transfers", disburse(101));
		expect(overdraft.status).toBe(422);
		expect(await json<Problem>(overdraft)).toMatchObject({ reason: "exceeds_debits", code: "unprocessable" });
		const batch = await c.post("/transfers", { transfers: [disburse(50), disburse(60)] });
		expect(batch.status).toBe(422);
		expect(await json<Problem>(batch)).toMatchObject({
			reason: "batch_refused",
			transfer_errors: [{ index: 1, reason: "exceeds_debits" }],
		});
		expect((await json<GetLedgerResponse>(await c.get())).head.sequence).toBe(1);
	});

	it("needs an Idempotency-Key on every write", async () => {
		const c = await client("ER");
		const missing = await c.post("/transfers", fund(1), null);
		expect(missing.status).toBe(400);
		expect(await json<Problem>(missing)).toMatchObject({ errors: [{ path: ["Idempotency-Key"] }] });
		const tooLong = await c.post("/transfers", fund(1), "k".repeat(256));
		expect(tooLong.status).toBe(400);
		expect((await c.post("/transfers/x/post", {}, null)).status).toBe(400);
	});

	it("answers 404 for an unknown nation, transfer or pending transfer", async () => {
		const c = await client("DJ");
		const auth = await bearer("admin");
		expect((await call("/v1/nations/XX/ledger", { headers: auth })).status).toBe(404);
		expect((await call("/v1/nations/ABCD/ledger", { headers: auth })).status).toBe(404);
		expect((await c.get("/transfers/nope")).status).toBe(404);
		expect((await c.post("/transfers/nope/post", {})).status).toBe(404);
		expect((await c.post("/transfers/nope/reverse", {})).status).toBe(404);
	});
});

describe("access", () => {
	it("needs a token, and ledger:read / ledger:write", async () => {
		USED.push("BJ");
		expect((await call("/v1/nations/BJ/ledger")).status).toBe(401);
		const viewer = await bearer("viewer", uniqueSub("viewer"));
		expect((await call("/v1/nations/BJ/ledger", { headers: viewer })).status).toBe(403);
		const reader = await bearer("ledger:read", uniqueSub("reader"));
		expect((await call("/v1/nations/BJ/ledger", { headers: reader })).status).toBe(200);
		const write = await call("/v1/nations/BJ/ledger/transfers", {
			method: "POST",
			headers: { ...reader, "idempotency-key": key() },
			json: fund(1),
		});
		expect(write.status).toBe(403);
	});

	it("lets a governor use only their own nation's ledger", async () => {
		USED.push("TG", "BF");
		const governor = await bearer("nation:TG", uniqueSub("governor"));
		const own = await call("/v1/nations/TG/ledger/transfers", {
			method: "POST",
			headers: { ...governor, "idempotency-key": key() },
			json: fund(10),
		});
		expect(own.status).toBe(201);
		expect((await call("/v1/nations/tgo/ledger", { headers: governor })).status).toBe(200);
		for (const path of [
			"/v1/nations/BF/ledger",
			"/v1/nations/BF/ledger/entries",
			"/v1/nations/BF/ledger/transfers/x",
		]) {
			expect((await call(path, { headers: governor })).status, path).toBe(404);
		}
		const foreign = await call("/v1/nations/BF/ledger/transfers", {
			method: "POST",
			headers: { ...governor, "idempotency-key": key() },
			json: fund(10),
		});
		expect(foreign.status).toBe(404);
		const admin = await bearer("admin");
		expect(
			(await json<GetLedgerResponse>(await call("/v1/nations/BF/ledger", { headers: admin }))).head.sequence,
		).toBe(0);
	});

	it("lets a regional officer read the ledgers of its region only, never write", async () => {
		USED.push("GN", "FR");
		const regional = await bearer("region:jnb", uniqueSub("regional"));
		expect((await call("/v1/nations/GN/ledger", { headers: regional })).status).toBe(200);
		expect((await call("/v1/nations/FR/ledger", { headers: regional })).status).toBe(404);
		const write = await call("/v1/nations/GN/ledger/transfers", {
			method: "POST",
			headers: { ...regional, "idempotency-key": key() },
			json: fund(10),
		});
		expect(write.status).toBe(403);
	});
});
