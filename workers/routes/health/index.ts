import type { App } from "../../app.ts";
import * as getHealth from "./get-health.ts";

export function registerHealthRoutes(app: App) {
	getHealth.register(app);
}
