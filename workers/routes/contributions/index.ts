import type { App } from "../../app.ts";
import * as createSchedule from "./create-schedule.ts";
import * as listContributions from "./list-contributions.ts";

export function registerContributionRoutes(app: App) {
	createSchedule.register(app);
	listContributions.register(app);
}
