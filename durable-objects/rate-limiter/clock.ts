/**
 * The clock rate limiting reads (the limiter object and the isolate fast path alike). It is the wall clock;
 * it is an object so the rate-limit tests can drive time instead of sleeping, which makes "allowed requests
 * per window" exact on a loaded CI machine.
 */
export const rateLimitClock = {
	now: (): number => Date.now(),
};
