import type { App } from "../../app.ts";
import * as getCheckpoint from "./get-checkpoint.ts";

export function registerCheckpointRoutes(app: App) {
	getCheckpoint.register(app);
}
