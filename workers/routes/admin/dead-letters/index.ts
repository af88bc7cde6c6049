import type { App } from "../../../app.ts";
import * as listDeadLetters from "./list-dead-letters.ts";
import * as redriveDeadLetter from "./redrive-dead-letter.ts";
import * as redriveDeadLetters from "./redrive-dead-letters.ts";

export function registerDeadLetterRoutes(app: App) {
	listDeadLetters.register(app);
	redriveDeadLetters.register(app);
	redriveDeadLetter.register(app);
}
