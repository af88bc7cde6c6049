import type { App } from "../../../app.ts";
import * as createRevocation from "./create-revocation.ts";
import * as listRevocations from "./list-revocations.ts";

export function registerRevocationRoutes(app: App) {
	listRevocations.register(app);
	createRevocation.register(app);
}
