import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Tests run inside workerd with the worker's own wrangler.toml bindings; Postgres, the WebSocket proxy and a
// local OIDC issuer come from test/global-setup.ts (in Node) through provide/inject.
export default defineConfig({
	plugins: [
		cloudflareTest(({ inject }) => ({
			wrangler: { configPath: "./wrangler.toml" },
			miniflare: {
				bindings: {
					ENVIRONMENT: "test",
					BUILD_VERSION: "test",
					DATABASE_URL: inject("databaseUrl"),
					NEON_WS_PROXY: inject("wsProxy"),
					AUTH_ISSUER: inject("authIssuer"),
					AUTH_JWKS_URL: inject("authJwksUrl"),
				},
			},
		})),
	],
	test: {
		globalSetup: ["./test/global-setup.ts"],
		include: ["test/**/*.test.ts"],
		testTimeout: 30_000,
		hookTimeout: 60_000,
	},
});
