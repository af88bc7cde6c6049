import type { App } from "../../app.ts";
import * as getNation from "./get-nation.ts";
import * as listNations from "./list-nations.ts";
import * as updateNation from "./update-nation.ts";

export function registerNationRoutes(app: App) {
	listNations.register(app);
	getNation.register(app);
	updateNation.register(app);
}
