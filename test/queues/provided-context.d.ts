// The push receiver's URL, provided by test/global-setup.ts (test/node/push-receiver.ts starts it).
declare module "vitest" {
	export interface ProvidedContext {
		pushReceiverUrl: string;
	}
}

export {};
