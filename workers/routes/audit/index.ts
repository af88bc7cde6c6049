import type { App } from "../../app.ts";
import * as listAudit from "./list-audit.ts";
import * as verifyAudit from "./verify-audit.ts";

export function registerAuditRoutes(app: App) {
	verifyAudit.register(app);
	listAudit.register(app);
}
