import { nationByCode } from "../domain/ledger/nations.ts";
import { ApiError } from "./problem.ts";

/**
 * A list route's `nation` query filter (alpha-2 or alpha-3, any case) as the nation's alpha-2 code; undefined
 * when the filter is absent. A code no nation has is a 400 naming the parameter: filtering by it would
 * silently answer an empty page.
 */
export function nationFilterOf(code: string | undefined): string | undefined {
	if (code === undefined) return undefined;
	const nation = nationByCode(code);
	if (!nation) {
		throw new ApiError("invalid_request", `No nation has the code '${code}'`, {
			errors: [{ path: ["query", "nation"], message: "unknown nation", code: "invalid_value" }],
		});
	}
	return nation.iso2;
}
