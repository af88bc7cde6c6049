import type { App } from "../../app.ts";
import * as createTransfers from "./create-transfers.ts";
import * as getLedger from "./get-ledger.ts";
import * as getTransfer from "./get-transfer.ts";
import * as listEntries from "./list-entries.ts";
import * as postTransfer from "./post-transfer.ts";
import * as reverseTransfer from "./reverse-transfer.ts";
import * as voidTransfer from "./void-transfer.ts";

export function registerLedgerRoutes(app: App) {
	getLedger.register(app);
	listEntries.register(app);
	createTransfers.register(app);
	getTransfer.register(app);
	postTransfer.register(app);
	voidTransfer.register(app);
	reverseTransfer.register(app);
}
