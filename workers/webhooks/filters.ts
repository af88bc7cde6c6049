import { EVENT_TYPES, type EventType } from "../../queues/envelope.ts";
import {
	type AccessTarget,
	type Grant,
	grantsFromScope,
	scopeMatches,
	type Visibility,
	visibilityFor,
} from "../auth/permissions.ts";

/**
 * Which events an endpoint receives: event-type filters (exact types, or prefixes ending in `.*`, or `*`)
 * and an optional scope filter (nations, sectors, serving regions). Partners receive the platform's
 * `covenant.*` events and the `webhooks.*` events about their own endpoints; internal events (audit,
 * sign-ins, push requests, anomaly alerts) are never sent outside.
 */
export const SUBSCRIBABLE_TYPES: readonly EventType[] = EVENT_TYPES.filter(
	(type) => type.startsWith("covenant.") || type.startsWith("webhooks."),
);

/** The type of the message `POST /v1/webhooks/endpoints/{id}/test` sends; not an event of the backbone. */
export const TEST_EVENT_TYPE = "webhooks.test";

/** `webhooks.*` events are about the owner's own endpoints: they skip the scope and visibility checks. */
export function isOwnerEvent(type: string): boolean {
	return type.startsWith("webhooks.");
}

export const DEFAULT_EVENT_FILTERS = ["covenant.*"];
export const MAX_EVENT_FILTERS = 50;

const FILTER_SYNTAX = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$/;

/** Whether `type` passes one filter. */
export function filterMatches(filter: string, type: string): boolean {
	if (filter === "*") return true;
	if (filter.endsWith(".*")) return type.startsWith(filter.slice(0, -1));
	return filter === type;
}

export function typeMatches(filters: readonly string[], type: string): boolean {
	return filters.some((filter) => filterMatches(filter, type));
}

/** Why a filter is refused (unknown type, or a prefix that matches nothing a partner can receive). */
export function eventFilterRefusal(filter: string): string | undefined {
	if (!FILTER_SYNTAX.test(filter)) {
		return `'${filter}' is not an event type or a prefix like 'covenant.payments.*'`;
	}
	if (SUBSCRIBABLE_TYPES.some((type) => filterMatches(filter, type))) return undefined;
	if (filter.endsWith(".*")) return `'${filter}' matches no event type partners can receive`;
	return `'${filter}' is not an event type partners can receive (see GET /v1/webhooks/event-types)`;
}

// ---- Scope --------------------------------------------------------------------------------------------

/** An endpoint's scope filter: within each list given, any value; across lists, all must hold. */
export interface ScopeFilter {
	nations?: string[];
	sectors?: string[];
	regions?: string[];
}

const DIMENSIONS = [
	["nations", "nation"],
	["sectors", "sector"],
	["regions", "region"],
] as const;

/** Whether an event about `target` passes the scope filter (no filter: every event). */
export function scopeFilterMatches(filter: ScopeFilter | null, target: AccessTarget): boolean {
	if (!filter) return true;
	for (const [list, attribute] of DIMENSIONS) {
		const allowed = filter[list];
		if (!allowed || allowed.length === 0) continue;
		const value = target[attribute];
		if (value === undefined || !allowed.includes(value)) return false;
	}
	return true;
}

/** Drops empty lists; null when nothing is left (an empty filter is no filter). */
export function normaliseScopeFilter(filter: ScopeFilter | null | undefined): ScopeFilter | null {
	if (!filter) return null;
	const out: ScopeFilter = {};
	for (const [list] of DIMENSIONS) {
		const values = filter[list];
		if (values && values.length > 0) out[list] = [...new Set(values)].sort();
	}
	return Object.keys(out).length > 0 ? out : null;
}

/**
 * Whether every event the filter lets through is one the owner may see. Visibility is a union of grants
 * (nations, or sectors, or regions); the filter is a conjunction, so it is within visibility as soon as one of
 * its lists is a subset of the matching visibility list.
 */
export function scopeFilterWithin(filter: ScopeFilter | null, visibility: Visibility): boolean {
	if (visibility.all) return true;
	if (!filter) return false;
	return DIMENSIONS.some(([list]) => {
		const values = filter[list];
		return !!values && values.length > 0 && values.every((value) => visibility[list].includes(value));
	});
}

/**
 * The filter a scoped owner gets when it names none: its own visibility, when that fits in one list
 * (`partner nation:KE` → `{ nations: ["KE"] }`); undefined when it does not (the owner must choose).
 */
export function defaultScopeFilter(visibility: Visibility): ScopeFilter | null | undefined {
	if (visibility.all) return null;
	const used = DIMENSIONS.filter(([list]) => visibility[list].length > 0);
	if (used.length !== 1) return undefined;
	const [list] = used[0] as (typeof DIMENSIONS)[number];
	return { [list]: [...new Set(visibility[list])].sort() };
}

/** Human form of a visibility, for problem details: "nation:KE, sector:energy". */
export function describeVisibility(visibility: Visibility): string {
	if (visibility.all) return "everything";
	const tokens = [
		...visibility.nations.map((n) => `nation:${n}`),
		...visibility.sectors.map((s) => `sector:${s}`),
		...visibility.regions.map((r) => `region:${r}`),
	];
	return tokens.length > 0 ? tokens.join(", ") : "nothing";
}

// ---- Owner visibility at delivery time ----------------------------------------------------------------

const grantCache = new Map<string, Grant[]>();
const GRANT_CACHE_ENTRIES = 1_000;

/** The grants of a stored owner scope (parsed once per isolate; bounded). */
export function ownerGrants(scope: string): Grant[] {
	let grants = grantCache.get(scope);
	if (!grants) {
		grants = grantsFromScope(scope);
		if (grantCache.size >= GRANT_CACHE_ENTRIES) grantCache.delete(grantCache.keys().next().value as string);
		grantCache.set(scope, grants);
	}
	return grants;
}

/** Whether the endpoint's owner may see an event about `target` (checked again at every delivery). */
export function ownerMaySee(ownerScope: string, target: AccessTarget): boolean {
	return ownerGrants(ownerScope).some(
		(g) => g.permissions.has("webhooks:read") && scopeMatches(g.scope, target),
	);
}

export function ownerVisibility(ownerScope: string): Visibility {
	return visibilityFor(ownerGrants(ownerScope), "webhooks:read");
}
