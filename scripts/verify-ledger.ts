/**
 * `npm run verify:ledger -- <nation> [options]`: verifies a nation's ledger from outside, through the public API
 * of a running Covenant Edge, trusting nothing it says about itself (docs/fund.md):
 *
 *   1. fetches the published checkpoint keys and a fresh signed checkpoint, and checks its Ed25519 signature;
 *   2. fetches every entry up to the checkpoint, recomputes each hash and each link of the chain;
 *   3. replays the entries through the ledger's balance rules and compares the balances digest;
 *   4. with --from-checkpoint, checks that the new checkpoint extends the one saved earlier.
 *
 * Options:
 *   --base-url <url>          the service (default http://localhost:8787, or COVENANT_BASE_URL)
 *   --token <jwt>             a bearer token with ledger:read on the nation (or COVENANT_TOKEN)
 *   --from-checkpoint <file>  an earlier checkpoint (the JSON saved by --save-checkpoint, or a bare JWS)
 *   --save-checkpoint <file>  after a successful verification, save the checkpoint for the next run
 *   --json                    print the outcome as JSON
 *
 * Exit codes: 0 verified · 1 the ledger does not verify (chain, balances or head; prints the first bad sequence)
 * · 2 a checkpoint's signature does not verify · 3 the ledger does not extend the earlier checkpoint (prints the
 * first bad sequence) · 4 the service could not be reached or refused a request · 64 usage error.
 */
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type RemoteVerification, verifyRemoteLedger } from "../workers/domain/verify/remote.ts";

const EXIT = { verified: 0, ledger: 1, signature: 2, consistency: 3, fetch: 4, usage: 64 } as const;

function usage(message: string): never {
	console.error(`verify-ledger: ${message}`);
	console.error(
		"usage: npm run verify:ledger -- <nation> [--base-url url] [--token jwt] [--from-checkpoint file] [--save-checkpoint file] [--json]",
	);
	process.exit(EXIT.usage);
}

async function readCheckpointFile(file: string): Promise<string> {
	let text: string;
	try {
		text = (await readFile(file, "utf8")).trim();
	} catch (error) {
		usage(`cannot read ${file}: ${(error as Error).message}`);
	}
	if (text.startsWith("{")) {
		try {
			const saved = JSON.parse(text) as { jws?: unknown };
			if (typeof saved.jws === "string") return saved.jws;
		} catch {}
		usage(`${file} is neither a saved checkpoint (JSON with a jws member) nor a compact JWS`);
	}
	return text;
}

function exitCodeOf(outcome: RemoteVerification): number {
	if (outcome.stage === "fetch") return EXIT.fetch;
	if (outcome.stage === "signature") return EXIT.signature;
	if (outcome.result.ok) return EXIT.verified;
	return outcome.result.check === "consistency" ? EXIT.consistency : EXIT.ledger;
}

function describe(outcome: RemoteVerification, nation: string): string {
	switch (outcome.stage) {
		case "fetch":
			return `FAILED: could not fetch from the service: ${outcome.detail}`;
		case "signature":
			return `FAILED: the ${outcome.which === "earlier" ? "earlier " : ""}checkpoint's signature does not verify (${outcome.reason}): ${outcome.detail}`;
		case "ledger": {
			const { result, checkpoint } = outcome;
			if (!result.ok) {
				return [
					`FAILED: ${nation}'s ledger does not verify against the checkpoint at sequence ${checkpoint.payload.sequence}`,
					`  check: ${result.check} (${result.reason})`,
					`  first bad sequence: ${result.sequence}`,
					`  ${result.detail}`,
				].join("\n");
			}
			return [
				`OK: ${result.nation}'s ledger verifies: ${result.entries_verified} entries re-hashed and replayed`,
				`  head:     sequence ${result.sequence}, hash ${result.hash}`,
				`  balances: digest ${result.balances_digest}`,
				`  signed:   ${checkpoint.payload.time} by key ${checkpoint.kid}`,
				result.extends
					? `  extends the earlier checkpoint at sequence ${result.extends.sequence} (${result.extends.hash})`
					: "  (no earlier checkpoint given)",
			].join("\n");
		}
	}
}

async function main() {
	let parsed: ReturnType<typeof parseArgs>;
	try {
		parsed = parseArgs({
			allowPositionals: true,
			options: {
				"base-url": { type: "string" },
				token: { type: "string" },
				"from-checkpoint": { type: "string" },
				"save-checkpoint": { type: "string" },
				json: { type: "boolean" },
				help: { type: "boolean", short: "h" },
			},
		});
	} catch (error) {
		usage((error as Error).message);
	}
	const { values, positionals } = parsed;
	if (values.help) usage("verifies a nation's ledger through the public API");
	const [nation, ...extra] = positionals;
	if (!nation || !/^[A-Za-z]{2,3}$/.test(nation))
		usage("give the nation's ISO 3166-1 alpha-2 or alpha-3 code");
	if (extra.length > 0) usage(`unexpected arguments: ${extra.join(" ")}`);
	const baseUrl =
		(values["base-url"] as string | undefined) ?? process.env.COVENANT_BASE_URL ?? "http://localhost:8787";
	try {
		new URL(baseUrl);
	} catch {
		usage(`--base-url is not a URL: ${baseUrl}`);
	}
	const token = (values.token as string | undefined) ?? process.env.COVENANT_TOKEN;
	const fromFile = values["from-checkpoint"] as string | undefined;
	const earlierCheckpoint = fromFile === undefined ? undefined : await readCheckpointFile(fromFile);

	const outcome = await verifyRemoteLedger({ baseUrl, nation, token, earlierCheckpoint });
	const code = exitCodeOf(outcome);
	if (values.json) {
		console.log(JSON.stringify({ exit_code: code, ...outcome }, null, 2));
	} else {
		(code === 0 ? console.log : console.error)(describe(outcome, nation.toUpperCase()));
		if (outcome.stage === "fetch" && outcome.status === 401) {
			console.error(
				"  (pass a token with ledger:read: --token, or COVENANT_TOKEN; `npm run token` mints one locally)",
			);
		}
	}
	const saveTo = values["save-checkpoint"] as string | undefined;
	if (code === 0 && saveTo && outcome.stage === "ledger") {
		const { jws, kid, payload } = outcome.checkpoint;
		await writeFile(saveTo, `${JSON.stringify({ ...payload, kid, jws }, null, 2)}\n`);
		if (!values.json) console.log(`  checkpoint saved to ${saveTo}`);
	}
	process.exit(code);
}

main().catch((error) => {
	console.error(`verify-ledger: unexpected error: ${error instanceof Error ? error.stack : String(error)}`);
	process.exit(EXIT.fetch);
});
