import { renewLeaseAhead, takeFromLease } from "../../durable-objects/rate-limiter/client.ts";
import { looksLikeApiKey } from "../auth/api-key-format.ts";
import { knownNotRevoked, refreshRevocationsAhead } from "../auth/credentials.ts";
import { cachedVerification } from "../auth/jwt.ts";
import type { Permission } from "../auth/permissions.ts";
import type { Principal } from "../auth/principal.ts";
import { provisionedRecently } from "../auth/provisioning.ts";
import type { Background } from "../lib/context.ts";
import { principalFor } from "../middleware/authenticate.ts";
import { acceptsJson } from "../middleware/http-rules.ts";
import { bucketFor, rateLimitHeaders } from "../middleware/rate-limit.ts";
import { requestIdFor } from "../middleware/request-context.ts";
import { CONSISTENCY_HEADER } from "./consistency.ts";
import { cachedResponse } from "./http.ts";
import { isolateHit } from "./read-through.ts";

/**
 * A cached read route as the isolate hot path sees it. The route module declares it beside its handler, so
 * the key below is computed by the same functions the handler uses.
 */
export interface HotRead {
	/** The route as `defineRoute` made it: its permission and rate-limit cost are read from it. */
	route: object;
	/** The route's path; each capture group is one path parameter, in order. */
	path: RegExp;
	/**
	 * The cache key the route's handler would read for this request (after validating the parameters exactly
	 * as the route does), or undefined to leave the request to the handler. Must have no side effect (a memo
	 * of a pure computation is fine). `rawQuery` is the query string `query` was parsed from.
	 */
	key(
		params: readonly string[],
		query: Readonly<Record<string, string>>,
		principal: Principal,
		rawQuery: string,
	): string | undefined;
}

interface CompiledHotRead extends HotRead {
	permission: Permission;
	cost: number;
}

export function compileHotReads(reads: readonly HotRead[]): CompiledHotRead[] {
	return reads.map((read) => {
		const route = read.route as { "x-required-permission"?: Permission; "x-rate-limit-cost"?: number };
		const permission = route["x-required-permission"];
		const cost = route["x-rate-limit-cost"];
		if (!permission || !cost)
			throw new Error(`hot read ${read.path}: the route is not a protected defineRoute`);
		return { ...read, permission, cost };
	});
}

/** Query strings the hot path parses itself: plain `name=value` pairs, nothing to percent-decode. */
const PLAIN_QUERY = /^[A-Za-z0-9_.~-]+=[A-Za-z0-9_.~-]*(?:&[A-Za-z0-9_.~-]+=[A-Za-z0-9_.~-]*)*$/;

export type HotPathEnv = Pick<
	Env,
	| "AUTH_AUTHORITY"
	| "RATE_LIMITER"
	| "AUTH_ISSUER"
	| "AUTH_AUDIENCE"
	| "AUTH_JWKS_URL"
	| "AUTH_TOKEN_TYPES"
	| "ENVIRONMENT"
	| "CACHE"
	| "CACHE_FRESH_SECONDS"
	| "CACHE_STALE_SECONDS"
	| "DATABASE_URL"
>;

/**
 * The isolate hot path of the cached reads: answers a GET that the full pipeline (Hono routing, the request
 * context, the /v1 HTTP rules, `protect()`, validation, the route's handler) would answer from this isolate's
 * memory alone, with the same response, without running that pipeline. Every step is the pipeline's own
 * function in its synchronous, in-memory form:
 *
 * - a bearer JWT whose verification this isolate caches (`cachedVerification`), not revoked according to a
 *   revocation list younger than AUTHORITY_FRESH_MS (`knownNotRevoked`), whose person was provisioned recently;
 * - the route's permission, and its parameters valid as the route validates them;
 * - a fresh HIT in the isolate LRU (`isolateHit`: what `readThrough` would serve), no consistency token;
 * - the rate limit's cost covered by a lease the isolate holds (`takeFromLease`).
 *
 * Anything else (no or another credential, a stale revocation list, a miss, an error to report, a body, an
 * `Accept` without JSON, percent-encoded input) answers undefined and the request takes the full pipeline,
 * which answers it as it always did. The checks run before the only side effect (spending from the lease),
 * so a request that falls through has changed nothing. A request answered here may start, in `ctx.waitUntil`,
 * the background refresh of the revocation list or renewal of the lease when either is about to run out, so
 * the next requests keep finding them current (`refreshRevocationsAhead`, `renewLeaseAhead`).
 *
 * @example fetch(request, env, ctx) { return serveHotRead(hotReads, request, env, ctx) ?? app.fetch(request, env, ctx); }
 */
export function serveHotRead(
	reads: readonly CompiledHotRead[],
	request: Request,
	env: HotPathEnv,
	ctx: Background,
): Response | undefined {
	if (request.method !== "GET" || request.body !== null) return undefined;
	const url = request.url;
	const pathStart = url.indexOf("/", url.indexOf("//") + 2);
	if (pathStart < 0) return undefined;
	const queryStart = url.indexOf("?", pathStart);
	const path = queryStart < 0 ? url.slice(pathStart) : url.slice(pathStart, queryStart);
	if (!path.startsWith("/v1/") || path.includes("%")) return undefined;
	let read: CompiledHotRead | undefined;
	let params: RegExpExecArray | null = null;
	for (const candidate of reads) {
		params = candidate.path.exec(path);
		if (params) {
			read = candidate;
			break;
		}
	}
	if (!read || !params) return undefined;

	const headers = request.headers;
	const accept = headers.get("accept");
	if (accept && !acceptsJson(accept)) return undefined;
	if (headers.has(CONSISTENCY_HEADER) || headers.has("x-api-key")) return undefined;
	// `Bearer <token>` exactly: a token found in the verified-token cache passed jose's parsing, so it is made of
	// base64url and dots and the pipeline's BEARER pattern would capture the same token; any other spelling
	// (extra spaces, other case) misses the cache and takes the pipeline.
	const authorization = headers.get("authorization");
	if (!authorization?.startsWith("Bearer ")) return undefined;
	const bearer = authorization.slice(7);
	if (looksLikeApiKey(bearer)) return undefined;
	let principal: Principal;
	let key: string | undefined;
	const now = Date.now();
	try {
		const verified = cachedVerification(bearer, env, now);
		if (!verified || !knownNotRevoked(verified.payload, now)) return undefined;
		principal = principalFor(verified);
		if (!principal.hasPermission(read.permission) || !provisionedRecently(principal, now)) return undefined;
		const rawQuery = queryStart < 0 ? "" : url.slice(queryStart + 1);
		const query = plainQuery(rawQuery);
		if (!query) return undefined;
		key = read.key(params.slice(1), query, principal, rawQuery);
	} catch {
		// The pipeline reports it (e.g. a misconfigured issuer).
		return undefined;
	}
	if (key === undefined) return undefined;
	const hit = isolateHit(env, key, now);
	if (!hit) return undefined;

	// The one side effect, last.
	const bucket = bucketFor(principal, env as Env);
	const decision = takeFromLease(bucket.key, read.cost, bucket.policy);
	if (!decision) return undefined;
	refreshRevocationsAhead(env, ctx, now);
	renewLeaseAhead(env, bucket.key, bucket.policy, ctx);
	const extra = rateLimitHeaders(bucket.name, decision);
	extra["x-request-id"] = requestIdFor(headers.get("x-request-id"));
	return cachedResponse(hit, headers.get("if-none-match"), extra);
}

/** `name=value` pairs, or undefined when a name repeats or anything would need decoding. */
function plainQuery(raw: string): Record<string, string> | undefined {
	if (raw === "") return {};
	if (!PLAIN_QUERY.test(raw)) return undefined;
	const query: Record<string, string> = {};
	for (const pair of raw.split("&")) {
		const eq = pair.indexOf("=");
		const name = pair.slice(0, eq);
		if (name === "__proto__" || Object.hasOwn(query, name)) return undefined;
		query[name] = pair.slice(eq + 1);
	}
	return query;
}
