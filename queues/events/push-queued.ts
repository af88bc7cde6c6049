import { z } from "zod";
import { Iso2, SectorSlug, ServingRegion } from "./fields.ts";

/**
 * `notifications.push.queued`: an explicit request to notify people (e.g. an operator's announcement). The
 * audience is a list of users, or everyone subscribed to one of the sectors, regions or nations given.
 */
export const PushQueuedData = z.looseObject({
	title: z.string().min(1).max(120),
	body: z.string().min(1).max(1000),
	url: z.url().optional(),
	audience: z
		.object({
			user_ids: z.array(z.string().min(1)).max(1000).optional(),
			sectors: z.array(SectorSlug).optional(),
			regions: z.array(ServingRegion).optional(),
			nations: z.array(Iso2).optional(),
		})
		.refine(
			(a) => [a.user_ids, a.sectors, a.regions, a.nations].some((list) => list && list.length > 0),
			"name at least one user, sector, region or nation",
		),
});
export type PushQueuedData = z.infer<typeof PushQueuedData>;
