import type { DistributionSaga } from "./object.ts";

/** The saga of one distribution (`idFromName(distribution id)`): start(plan) and view(). */
export function sagaOf(env: Pick<Env, "DISTRIBUTION_SAGA">, distributionId: string) {
	return env.DISTRIBUTION_SAGA.get(
		env.DISTRIBUTION_SAGA.idFromName(distributionId),
	) as DurableObjectStub<DistributionSaga>;
}
