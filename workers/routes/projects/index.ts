import type { App } from "../../app.ts";
import * as createProject from "./create-project.ts";
import * as getProject from "./get-project.ts";
import * as listProjects from "./list-projects.ts";
import * as updateProject from "./update-project.ts";

export function registerProjectRoutes(app: App) {
	listProjects.register(app);
	createProject.register(app);
	getProject.register(app);
	updateProject.register(app);
}
