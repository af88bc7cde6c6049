import type { App } from "../../app.ts";
import { SECURITY_SCHEMES } from "../../lib/route.ts";
import * as createApiKey from "./create-api-key.ts";
import * as getApiKey from "./get-api-key.ts";
import * as listApiKeys from "./list-api-keys.ts";
import * as revokeApiKey from "./revoke-api-key.ts";
import * as rotateApiKey from "./rotate-api-key.ts";
import * as updateApiKey from "./update-api-key.ts";

export function registerApiKeyRoutes(app: App) {
	// Every protected route accepts an API key as an alternative to a bearer token (workers/lib/route.ts).
	app.openAPIRegistry.registerComponent("securitySchemes", SECURITY_SCHEMES.apiKey, {
		type: "apiKey",
		in: "header",
		name: "X-API-Key",
		description:
			"A partner API key (`cov_live_…` / `cov_test_…`), also accepted as `Authorization: Bearer cov_…`. The roles listed on each route are the permission the key's scopes must grant.",
	});
	listApiKeys.register(app);
	createApiKey.register(app);
	getApiKey.register(app);
	updateApiKey.register(app);
	revokeApiKey.register(app);
	rotateApiKey.register(app);
}
