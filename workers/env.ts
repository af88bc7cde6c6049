import { z } from "zod";

/**
 * The bindings every deploy must provide, validated once per isolate at the entry point so a misconfigured
 * deploy fails loudly in one place instead of deep inside a request.
 */
const EnvSchema = z.object({
	ENVIRONMENT: z.enum(["development", "test", "staging", "production"]),
	BUILD_VERSION: z.string().min(1),
	SERVING_REGION: z.enum(["ams", "iad", "syd", "sin", "sfo", "jnb"]),
	DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// connection string"),
	/** host:port/path of a Neon-compatible WebSocket proxy; unset in production (Neon's own proxy is used). */
	NEON_WS_PROXY: z.string().optional(),
	AUTH_ISSUER: z.string().url(),
	AUTH_AUDIENCE: z.string().min(1),
	AUTH_JWKS_URL: z.string().url(),
});

export type ValidatedEnv = z.infer<typeof EnvSchema>;

let validated: WeakSet<object> | undefined;

/** Throws a readable error naming every misconfigured binding. Cached per env object. */
export function assertEnv(env: Env): void {
	validated ??= new WeakSet();
	if (validated.has(env)) return;
	const result = EnvSchema.safeParse(env);
	if (!result.success) {
		const problems = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
		throw new Error(`Covenant Edge is misconfigured: ${problems}`);
	}
	if (env.ENVIRONMENT === "production" && env.NEON_WS_PROXY) {
		throw new Error("Covenant Edge is misconfigured: NEON_WS_PROXY must not be set in production");
	}
	validated.add(env);
}
