import type { App } from "../../app.ts";
import { registerDeadLetterRoutes } from "./dead-letters/index.ts";
import { registerRevocationRoutes } from "./revocations/index.ts";

/** Operator routes under /v1/admin, one line per admin resource. */
export function registerAdminRoutes(app: App) {
	registerRevocationRoutes(app);
	registerDeadLetterRoutes(app);
}
