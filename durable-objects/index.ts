// Every Durable Object class the worker exports (wrangler.toml binds them by class name).
export { NationLedger } from "./nation-ledger/object.ts";
