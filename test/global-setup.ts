import type { TestProject } from "vitest/node";
import { createCheckpointKeys } from "../scripts/lib/checkpoint-keys.ts";
import { createIssuerKey, serveIssuer } from "../scripts/lib/dev-issuer.ts";
import { prepareDatabase } from "../scripts/lib/database.ts";
import { startWsProxy } from "../scripts/lib/ws-proxy.ts";
import { startPushReceiver } from "./node/push-receiver.ts";
import { startWebhookReceiver } from "./node/webhook-receiver.ts";

/**
 * Runs once in Node before the workerd test pool starts: a fresh Postgres database (a new database on
 * TEST_DATABASE_URL's server, else an in-memory PGlite), migrated and seeded; the Neon-compatible WebSocket
 * proxy the worker reaches it through; and a local OIDC issuer serving its JWKS. Everything is torn down
 * (and the database dropped) at the end.
 */
export default async function setup(project: TestProject) {
	const database = await prepareDatabase({
		serverUrl: process.env.TEST_DATABASE_URL,
		fresh: true,
		seed: true,
	});
	const proxy = await startWsProxy();
	const key = await createIssuerKey("test-key-1");
	const issuer = await serveIssuer([key.publicJwk]);
	const webhookReceiver = await startWebhookReceiver();

	project.provide("databaseUrl", database.url);
	project.provide("databaseKind", database.kind);
	project.provide("wsProxy", proxy.wsProxy);
	project.provide("authIssuer", issuer.issuer);
	project.provide("authJwksUrl", issuer.jwksUrl);
	project.provide("issuerPrivateJwk", JSON.stringify(key.privateJwk));
	// Ledger checkpoints (docs/fund.md): a fresh Ed25519 signing key per run, bound as CHECKPOINT_SIGNING_KEYS.
	project.provide("checkpointSigningKeys", await createCheckpointKeys("test-checkpoint-1"));
	const pushReceiver = await startPushReceiver();
	project.provide("pushReceiverUrl", pushReceiver.url);
	project.provide("webhookReceiverUrl", webhookReceiver.url);

	return async () => {
		await pushReceiver.close();
		await webhookReceiver.close();
		await issuer.close();
		await proxy.close();
		await database.dispose();
	};
}
