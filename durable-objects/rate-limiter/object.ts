import { DurableObject } from "cloudflare:workers";
import { type BucketState, newBucket, type TakeRequest, type TakeResult, takeFromBucket } from "./bucket.ts";
import { rateLimitClock } from "./clock.ts";

const STATE_KEY = "bucket";

/**
 * One principal's (or API key's) token bucket, `idFromName("<kind>:<id>")`: every edge asks the same object,
 * so the limit holds globally. The bucket lives in memory and is saved without waiting for the write to be
 * confirmed, so a take costs no storage round trip; after an eviction the object resumes from the saved state.
 */
export class RateLimiter extends DurableObject<Env> {
	private state: BucketState | undefined;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.blockConcurrencyWhile(async () => {
			this.state = await ctx.storage.get<BucketState>(STATE_KEY);
		});
	}

	async take(request: TakeRequest): Promise<TakeResult> {
		const now = rateLimitClock.now();
		this.state ??= newBucket(request.policy, now);
		const result = takeFromBucket(this.state, now, request);
		await this.ctx.storage.put(STATE_KEY, this.state, { allowUnconfirmed: true });
		return result;
	}
}
