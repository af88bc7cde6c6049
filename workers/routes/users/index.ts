import type { App } from "../../app.ts";
import * as getUser from "./get-user.ts";
import * as listUsers from "./list-users.ts";

export function registerUserRoutes(app: App) {
	listUsers.register(app);
	getUser.register(app);
}
