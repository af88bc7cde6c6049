import type { App } from "../../app.ts";
import * as getMe from "./get-me.ts";
import * as updateMe from "./update-me.ts";

export function registerMeRoutes(app: App) {
	getMe.register(app);
	updateMe.register(app);
}
