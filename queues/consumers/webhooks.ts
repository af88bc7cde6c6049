import { sendJobs } from "../../workers/webhooks/dispatch.ts";
import { fanOut, undispatchedJobs } from "../../workers/webhooks/fanout.ts";
import type { EventConsumer } from "./runner.ts";

/**
 * The webhooks consumer: fans each partner-facing event out into one message per matching endpoint
 * (workers/webhooks/fanout.ts), in the runner's exactly-once transaction, then puts one delivery job per
 * message on the `covenant-webhook-deliveries` queue, where each is attempted and retried on its own schedule
 * (queues/consumers/webhook-deliveries.ts). A crash between the commit and the send leaves the messages
 * pending; the scheduled sweep dispatches them.
 */
export const webhooksConsumer: EventConsumer = {
	name: "webhooks",
	async apply(tx, events, context) {
		await fanOut(tx, events, context.now);
		return undefined;
	},
	async afterCommit(events, context) {
		const jobs = await undispatchedJobs(
			context.db,
			events.map((event) => event.id),
		);
		await sendJobs(context.env, jobs);
	},
};
