import type { App } from "../../app.ts";
import * as getCovenantKeys from "./get-covenant-keys.ts";

export function registerWellKnownRoutes(app: App) {
	getCovenantKeys.register(app);
}
