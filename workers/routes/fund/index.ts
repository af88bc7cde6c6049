import type { App } from "../../app.ts";
import * as getFund from "./get-fund.ts";

export function registerFundRoutes(app: App) {
	getFund.register(app);
}
