import { z } from "zod";

/**
 * The body of a `covenant-webhook-deliveries` queue message: which message to attempt, and the dispatch it
 * belongs to. Only the message's current dispatch is acted on; any other copy (a duplicate, or one left from
 * before a manual retry) is acknowledged and dropped. Attempt counts and times live in Postgres.
 */
export const DeliveryJobSchema = z.object({
	message_id: z.uuid(),
	dispatch_id: z.uuid(),
});
export type DeliveryJob = z.infer<typeof DeliveryJobSchema>;
