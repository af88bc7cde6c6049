import type { App } from "../../app.ts";
import * as createEndpoint from "./create-endpoint.ts";
import * as deleteEndpoint from "./delete-endpoint.ts";
import * as getEndpoint from "./get-endpoint.ts";
import * as listDeliveries from "./list-deliveries.ts";
import * as listEndpoints from "./list-endpoints.ts";
import * as listEventTypes from "./list-event-types.ts";
import * as recoverEndpoint from "./recover-endpoint.ts";
import * as retryMessage from "./retry-message.ts";
import * as rotateSecret from "./rotate-secret.ts";
import * as sendTest from "./send-test.ts";
import * as updateEndpoint from "./update-endpoint.ts";

/** Partner webhooks (docs/webhooks.md): endpoints, secrets, tests, deliveries and recovery. */
export function registerWebhookRoutes(app: App) {
	listEventTypes.register(app);
	createEndpoint.register(app);
	listEndpoints.register(app);
	getEndpoint.register(app);
	updateEndpoint.register(app);
	deleteEndpoint.register(app);
	rotateSecret.register(app);
	sendTest.register(app);
	listDeliveries.register(app);
	recoverEndpoint.register(app);
	retryMessage.register(app);
}
