/**
 * Telling "Postgres cannot be reached" apart from "Postgres refused this query". Only the first lets the
 * cache serve a stale entry (and a write answer 503): a constraint violation or a bug must not be hidden
 * behind old data.
 */

/** SQLSTATE classes and codes that mean the server is not available (connection exceptions, shutdown, overload). */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[1-3]|53300)/;
/** What the Neon driver, its WebSocket and the runtime say when no connection can be made or it drops. */
const UNAVAILABLE_MESSAGE =
	/ECONNREFUSED|ECONNRESET|ETIMEDOUT|connection (terminated|refused|lost|ended|timeout)|Connection terminated|timeout exceeded when trying to connect|Network connection lost|WebSocket|socket hang up|upstream error|getaddrinfo|unreachable|Client has encountered a connection error/i;

export function isDatabaseUnavailable(error: unknown): boolean {
	for (const link of causeChain(error)) {
		const code = sqlState(link);
		if (code) return UNAVAILABLE_SQLSTATE.test(code);
		const message = messageOf(link);
		if (message && UNAVAILABLE_MESSAGE.test(message)) return true;
	}
	return false;
}

/** The Postgres SQLSTATE behind an error, however deeply the driver and Drizzle wrapped it. */
export function sqlState(error: unknown): string | undefined {
	for (const link of causeChain(error)) {
		const code = (link as { code?: unknown }).code;
		if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
	}
	return undefined;
}

/** The Postgres constraint a violation names (e.g. `projects_money_check`), if any. */
export function violatedConstraint(error: unknown): string | undefined {
	for (const link of causeChain(error)) {
		const constraint = (link as { constraint?: unknown }).constraint;
		if (typeof constraint === "string") return constraint;
	}
	return undefined;
}

/** The innermost message of an error chain: what the driver said, for logs (never for clients). */
export function rootCause(error: unknown): string {
	let message = String(error);
	for (const link of causeChain(error)) {
		const text = (link as { message?: unknown }).message;
		if (typeof text === "string" && !text.startsWith("Failed query")) message = text;
	}
	return message;
}

function* causeChain(error: unknown): Generator<object> {
	let current = error;
	for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
		yield current;
		current = (current as { cause?: unknown }).cause;
	}
}

function messageOf(link: object): string | undefined {
	const message = (link as { message?: unknown }).message;
	// Drizzle's wrapper quotes the SQL and its parameters, i.e. user input: never match on that.
	if (typeof message !== "string" || message.startsWith("Failed query")) return undefined;
	return message;
}
