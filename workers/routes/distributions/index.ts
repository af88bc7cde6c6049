import type { App } from "../../app.ts";
import * as createDistribution from "./create-distribution.ts";
import * as getDistribution from "./get-distribution.ts";
import * as listDistributions from "./list-distributions.ts";
import * as resumeDistribution from "./resume-distribution.ts";

export function registerDistributionRoutes(app: App) {
	createDistribution.register(app);
	getDistribution.register(app);
	listDistributions.register(app);
	resumeDistribution.register(app);
}
