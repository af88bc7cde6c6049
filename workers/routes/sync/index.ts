import type { App } from "../../app.ts";
import * as pullChanges from "./pull-changes.ts";
import * as pushChanges from "./push-changes.ts";

/** Mobile sync (WatermelonDB protocol): GET /v1/sync pulls, POST /v1/sync pushes. See docs/sync.md. */
export function registerSyncRoutes(app: App) {
	pullChanges.register(app);
	pushChanges.register(app);
}
