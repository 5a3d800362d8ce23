import { DocumentProjection } from '../../event-store/read-model.port';
import { authFactorsProjection } from './auth-factors.projection';
import { usersProjection } from './users.projection';

/** The views the user API reads; the service, the CLI and the benchmarks keep the same list. */
export const USER_PROJECTIONS: readonly DocumentProjection[] = [usersProjection, authFactorsProjection] as DocumentProjection[];
