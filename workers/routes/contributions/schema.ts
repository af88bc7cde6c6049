import type { Context } from "hono";
import type { Permission } from "../../auth/permissions.ts";
import type { AppEnv } from "../../lib/context.ts";
import { ApiError } from "../../lib/problem.ts";

/**
 * Fund-wide writes (scheduling every nation's contribution, distributing a profit across nations) touch many
 * nations at once, so they need the permission without a nation, sector or region constraint.
 */
export function assertFundWide(c: Context<AppEnv>, permission: Permission, what: string): void {
	if (c.var.principal.can(permission)) return;
	throw new ApiError(
		"forbidden",
		`${what} needs ${permission} across the whole covenant; your ${permission} is limited to a nation, sector or region`,
	);
}

/** Runs `work` over `items` with at most `limit` at a time, keeping the input order in the results. */
export async function mapWithConcurrency<T, R>(
	items: readonly T[],
	limit: number,
	work: (item: T) => Promise<R>,
): Promise<R[]> {
	const results = new Array<R>(items.length);
	let next = 0;
	const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
		while (next < items.length) {
			const index = next++;
			results[index] = await work(items[index] as T);
		}
	});
	await Promise.all(lanes);
	return results;
}
