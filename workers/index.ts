import { createApp } from "./app.ts";
import { assertEnv } from "./env.ts";

export * from "../durable-objects/index.ts";

const app = createApp();

export default {
	fetch(request, env, ctx) {
		assertEnv(env);
		return app.fetch(request, env, ctx);
	},
} satisfies ExportedHandler<Env>;
