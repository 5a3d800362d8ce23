import { authFactorsProjection } from '../users/read-models/auth-factors.projection';
import { usersProjection } from '../users/read-models/users.projection';
import { DocumentProjection } from './read-model-store.port';

/**
 * Every projection the service keeps, in one place so that the service, the CLI
 * (scripts/projections.ts) and the replay benchmark work on the same list.
 */
export const ALL_PROJECTIONS: readonly DocumentProjection[] = [usersProjection, authFactorsProjection] as DocumentProjection[];
