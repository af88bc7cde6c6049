import type { AuthAuthority } from "./object.ts";

/** The one global authority's name: every edge asks the same object, so every edge sees the same answer. */
const AUTHORITY_NAME = "global";

/** The small client the worker talks to: a typed stub for the global credentials authority. */
export function authAuthorityClient(env: Pick<Env, "AUTH_AUTHORITY">) {
	return env.AUTH_AUTHORITY.get(
		env.AUTH_AUTHORITY.idFromName(AUTHORITY_NAME),
	) as DurableObjectStub<AuthAuthority>;
}
