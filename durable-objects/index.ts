// Every Durable Object class the worker exports (wrangler.toml binds them by class name).

export { AuthAuthority } from "./auth-authority/object.ts";
export { DistributionSaga } from "./distribution-saga/object.ts";
export { NationLedger } from "./nation-ledger/object.ts";
export { RateLimiter } from "./rate-limiter/object.ts";
