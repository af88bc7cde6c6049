// Values test/global-setup.ts provides to the tests (vitest provide/inject).
declare module "vitest" {
	export interface ProvidedContext {
		databaseUrl: string;
		databaseKind: string;
		wsProxy: string;
		authIssuer: string;
		authJwksUrl: string;
		issuerPrivateJwk: string;
		/** The CHECKPOINT_SIGNING_KEYS value of the run (scripts/lib/checkpoint-keys.ts). */
		checkpointSigningKeys: string;
		/** test/node/webhook-receiver.ts: a controllable local webhook receiver (`http://127.0.0.1:<port>`). */
		webhookReceiverUrl: string;
	}
}
export {};
