import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two projects, one `npm test`:
// - "workers": everything that runs in the Worker (routes, Durable Objects, queues) runs inside workerd with the
//   worker's own wrangler.toml bindings; Postgres, the WebSocket proxy and a local OIDC issuer come from
//   test/global-setup.ts (in Node) through provide/inject.
// - "node": tooling that runs in Node (migrations, seeding) and outside peers that need a real client.
export default defineConfig({
	test: {
		testTimeout: 30_000,
		hookTimeout: 60_000,
		projects: [
			{
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
								CHECKPOINT_SIGNING_KEYS: inject("checkpointSigningKeys"),
							},
							ratelimits: {
								// Every suite's 401s come from one address ("unknown"): the production budget would turn
								// them into 429s. test/identity/failed-credentials.test.ts binds the tight one instead.
								FAILED_AUTH_LIMITER: { namespace_id: "1001", simple: { limit: 1_000_000, period: 60 } },
								TIGHT_FAILED_AUTH_LIMITER: { namespace_id: "1002", simple: { limit: 3, period: 60 } },
							},
						},
					})),
				],
				test: {
					name: "workers",
					globalSetup: ["./test/global-setup.ts"],
					// Durable Objects and queue consumers log from alarms that may outlive their test file; routed through
					// Vitest's RPC such a late line failed the run ("Closing rpc while onUserConsoleLog was pending").
					// Printed by workerd directly, it is just a line of output.
					disableConsoleIntercept: true,
					include: ["test/**/*.test.ts"],
					exclude: ["test/node/**"],
					testTimeout: 30_000,
					hookTimeout: 60_000,
				},
			},
			{
				test: {
					name: "node",
					environment: "node",
					include: ["test/node/**/*.test.ts"],
					testTimeout: 60_000,
					hookTimeout: 60_000,
				},
			},
		],
	},
});
