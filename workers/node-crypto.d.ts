/**
 * The part of `node:crypto` the worker uses: synchronous SHA-256 (workers/domain/ledger/canonical.ts), native in
 * workerd under the `nodejs_compat` flag. Declared here instead of adding @types/node to the worker's types, which
 * would bring Node's globals (process, Buffer, timers) into code that runs in workerd.
 */
declare module "node:crypto" {
	interface Hash {
		update(data: Uint8Array): Hash;
		digest(encoding: "hex"): string;
	}
	export function createHash(algorithm: "sha256"): Hash;
}
