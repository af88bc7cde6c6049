import type { App } from "../../app.ts";
import * as createDistribution from "./create-distribution.ts";
import * as getDistribution from "./get-distribution.ts";

export function registerDistributionRoutes(app: App) {
	createDistribution.register(app);
	getDistribution.register(app);
}
