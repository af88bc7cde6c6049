import type { App } from "../../app.ts";
import * as getRegionAnalytics from "./get-region-analytics.ts";
import * as getSectorAnalytics from "./get-sector-analytics.ts";

export function registerAnalyticsRoutes(app: App) {
	getSectorAnalytics.register(app);
	getRegionAnalytics.register(app);
}
