import { getTableColumns, sql } from "drizzle-orm";
import type { Context } from "hono";
import type { Database } from "../db/client.ts";
import { type UserRow, users } from "../db/schema/users.ts";
import type { AppEnv } from "../lib/context.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { REGIONS } from "./permissions.ts";
import type { Principal } from "./principal.ts";

/**
 * `users.authenticated` is emitted once per session: on first sight, and again only when a person's previous
 * authentication is older than this. Postgres decides atomically, so all edges together emit one event.
 */
export const SESSION_WINDOW_MINUTES = 30;
/** An isolate that provisioned a person skips Postgres for their requests this long. */
const SEEN_TTL_MS = 5 * 60_000;
const recentlySeen = new BoundedCache<string, true>({ maxEntries: 20_000, maxBytes: 4_000_000 });

export interface TokenProfile {
	sub: string;
	email: string | null;
	name: string | null;
	homeRegion: string;
}

/**
 * Reads a claim by its plain name or a namespaced one (`https://covenant.example/home_region`): Auth0 requires
 * custom claims in access tokens to be namespaced.
 */
function claim(claims: Readonly<Record<string, unknown>>, name: string): unknown {
	if (claims[name] !== undefined) return claims[name];
	const key = Object.keys(claims).find((k) => k.endsWith(`/${name}`));
	return key ? claims[key] : undefined;
}

function boundedString(value: unknown, max: number, pattern?: RegExp): string | null {
	if (typeof value !== "string") return null;
	const trimmed = value.trim();
	if (trimmed.length === 0 || trimmed.length > max) return null;
	return pattern && !pattern.test(trimmed) ? null : trimmed;
}

export function profileFromClaims(
	sub: string,
	claims: Readonly<Record<string, unknown>>,
	servingRegion: string,
): TokenProfile {
	const region = claim(claims, "home_region");
	return {
		sub,
		email: boundedString(claim(claims, "email"), 320, /^[^\s@]+@[^\s@]+$/),
		name: boundedString(claim(claims, "name"), 200),
		homeRegion:
			typeof region === "string" && (REGIONS as readonly string[]).includes(region) ? region : servingRegion,
	};
}

/**
 * Creates the person's record on first sight, refreshes email and name from the token, and says whether this
 * is a new session to announce. One statement: concurrent first requests from several edges make one row and
 * one announcement.
 */
export async function provisionUser(
	db: Database,
	profile: TokenProfile,
): Promise<{ user: UserRow; announce: boolean }> {
	const stale = sql`(${users.lastAuthenticatedAt} is null or ${users.lastAuthenticatedAt} < now() - make_interval(mins => ${SESSION_WINDOW_MINUTES}))`;
	const changed = sql`((excluded.email is not null and excluded.email is distinct from ${users.email}) or (excluded.name is not null and excluded.name is distinct from ${users.name}))`;
	const [row] = await db
		.insert(users)
		.values({
			sub: profile.sub,
			email: profile.email,
			name: profile.name,
			homeRegion: profile.homeRegion,
			lastAuthenticatedAt: sql`now()`,
			// Millisecond precision, exactly what a cursor carries (keyset pagination on created_at).
			createdAt: sql`date_trunc('milliseconds', now())`,
		})
		.onConflictDoUpdate({
			target: users.sub,
			set: {
				email: sql`coalesce(excluded.email, ${users.email})`,
				name: sql`coalesce(excluded.name, ${users.name})`,
				lastAuthenticatedAt: sql`case when ${stale} then now() else ${users.lastAuthenticatedAt} end`,
				version: sql`${users.version} + case when ${changed} then 1 else 0 end`,
				updatedAt: sql`case when ${changed} then now() else ${users.updatedAt} end`,
			},
		})
		.returning({ ...getTableColumns(users), announce: sql<boolean>`${users.lastAuthenticatedAt} = now()` });
	if (!row) throw new Error(`provisioning ${profile.sub} returned no row`);
	const { announce, ...user } = row;
	return { user, announce };
}

async function announce(c: Context<AppEnv>, principal: Principal, user: UserRow): Promise<void> {
	await c.var.events.publish({
		type: "users.authenticated",
		subject: `users/${user.id}`,
		actor: principal.subject,
		data: {
			user_id: user.id,
			method: "oidc",
			home_region: user.homeRegion,
			serving_region: c.var.servingRegion,
			token_id: principal.tokenId ?? null,
		},
	});
}

/** After a failed attempt, a person's requests skip provisioning this long (Postgres may be unreachable). */
const RETRY_AFTER_FAILURE_MS = 60_000;

function inBackground(c: Context<AppEnv>, work: Promise<unknown>): void {
	try {
		c.executionCtx.waitUntil(work);
	} catch {
		// No execution context (app.request in a unit test): the work still runs, unawaited.
	}
}

/**
 * Provisions the caller unless this isolate did so recently, on the request's own connection once its
 * handler is done (one connection per request, never two). It costs one upsert per person per isolate every
 * few minutes; a failure is logged, never fails the request, and is retried after a minute.
 */
export async function provisionOnFirstSight(c: Context<AppEnv>, principal: Principal): Promise<void> {
	if (principal.kind !== "user" || recentlySeen.get(principal.id)) return;
	recentlySeen.set(principal.id, true, SEEN_TTL_MS);
	try {
		const profile = profileFromClaims(principal.id, principal.claims, c.var.servingRegion);
		const { user, announce: isNewSession } = await provisionUser(c.var.db(), profile);
		if (isNewSession) inBackground(c, announceSafely(c, principal, user));
	} catch (error) {
		recentlySeen.set(principal.id, true, RETRY_AFTER_FAILURE_MS);
		console.error(
			JSON.stringify({ msg: "user provisioning failed", sub: principal.id, error: String(error) }),
		);
	}
}

/** The event is an audit record of the sign-in; the person's request must not fail for it. */
async function announceSafely(c: Context<AppEnv>, principal: Principal, user: UserRow): Promise<void> {
	await announce(c, principal, user).catch((error) =>
		console.error(
			JSON.stringify({ msg: "users.authenticated not sent", sub: principal.id, error: String(error) }),
		),
	);
}

/**
 * Whether `provisionOnFirstSight` would do nothing for this principal right now (an API key, or a person this
 * isolate provisioned recently). Side-effect free: for the isolate hot path.
 */
export function provisionedRecently(principal: Principal, now = Date.now()): boolean {
	return principal.kind !== "user" || recentlySeen.get(principal.id, now) !== undefined;
}

/** Provisions the caller now and returns their record (for /v1/me, which must answer with it). */
export async function ensureUser(c: Context<AppEnv>, principal: Principal): Promise<UserRow> {
	const profile = profileFromClaims(principal.id, principal.claims, c.var.servingRegion);
	const { user, announce: isNewSession } = await provisionUser(c.var.db(), profile);
	recentlySeen.set(principal.id, true, SEEN_TTL_MS);
	if (isNewSession) {
		// The event is an audit record of the sign-in; the person's request must not fail for it.
		await announce(c, principal, user).catch((error) =>
			console.error(
				JSON.stringify({ msg: "users.authenticated not sent", sub: principal.id, error: String(error) }),
			),
		);
	}
	return user;
}
