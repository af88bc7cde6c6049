import type { App } from "../app.ts";
import { registerAdminRoutes } from "./admin/index.ts";
import { registerAnalyticsRoutes } from "./analytics/index.ts";
import { registerApiKeyRoutes } from "./api-keys/index.ts";
import { registerAuditRoutes } from "./audit/index.ts";
import { registerCheckpointRoutes } from "./checkpoints/index.ts";
import { registerContributionRoutes } from "./contributions/index.ts";
import { registerDistributionRoutes } from "./distributions/index.ts";
import { registerFundRoutes } from "./fund/index.ts";
import { registerHealthRoutes } from "./health/index.ts";
import { registerLedgerRoutes } from "./ledger/index.ts";
import { registerMeRoutes } from "./me/index.ts";
import { registerNationRoutes } from "./nations/index.ts";
import { registerNotificationRoutes } from "./notifications/index.ts";
import { registerProjectRoutes } from "./projects/index.ts";
import { registerSectorRoutes } from "./sectors/index.ts";
import { registerSyncRoutes } from "./sync/index.ts";
import { registerUserRoutes } from "./users/index.ts";
import { registerWebhookRoutes } from "./webhooks/index.ts";
import { registerWellKnownRoutes } from "./well-known/index.ts";

/** One line per resource; each resource's index registers its operations (one file each). */
export function registerRoutes(app: App) {
	registerHealthRoutes(app);
	registerNationRoutes(app);
	registerLedgerRoutes(app);
	registerCheckpointRoutes(app);
	registerContributionRoutes(app);
	registerDistributionRoutes(app);
	registerFundRoutes(app);
	registerWellKnownRoutes(app);
	registerSectorRoutes(app);
	registerProjectRoutes(app);
	registerApiKeyRoutes(app);
	registerMeRoutes(app);
	registerUserRoutes(app);
	registerAdminRoutes(app);
	registerSyncRoutes(app);
	registerWebhookRoutes(app);
	registerAuditRoutes(app);
	registerAnalyticsRoutes(app);
	registerNotificationRoutes(app);
}
