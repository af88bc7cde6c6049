import type { App } from "../app.ts";
import { registerHealthRoutes } from "./health/index.ts";

/** One line per resource; each resource's index registers its operations (one file each). */
export function registerRoutes(app: App) {
	registerHealthRoutes(app);
}
