import { z } from "zod";

/**
 * `webhooks.endpoint.disabled`: a partner's webhook endpoint was switched off by the platform (its receiver
 * answered 410 Gone, or every delivery failed for 5 days). `owner` is the partner to notify; the event is also
 * delivered to that partner's other endpoints that subscribe to it (docs/webhooks.md).
 */
export const WebhookEndpointDisabledData = z.looseObject({
	endpoint_id: z.uuid(),
	owner: z.string().min(1),
	url: z.string().min(1),
	description: z.string(),
	reason: z.enum(["gone", "failing"]),
	detail: z.string(),
	failing_since: z.iso.datetime({ offset: true }).nullable(),
	disabled_at: z.iso.datetime({ offset: true }),
});
export type WebhookEndpointDisabledData = z.infer<typeof WebhookEndpointDisabledData>;
