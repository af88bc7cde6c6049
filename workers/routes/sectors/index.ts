import type { App } from "../../app.ts";
import * as getSector from "./get-sector.ts";
import * as listSectors from "./list-sectors.ts";

export function registerSectorRoutes(app: App) {
	listSectors.register(app);
	getSector.register(app);
}
