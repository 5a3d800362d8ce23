import { describe } from 'node:test';
import { skippedWithoutPostgres } from '../postgres/test-database';
import { eventStoreContract } from './event-store.contract';
import { inlineViewsContract } from './inline-views.contract';
import { readModelStoreContract } from './read-model-store.contract';
import { postgresLocation, storeAt } from './store-openers';

describe('PostgreSQL stores', async () => {
  if (await skippedWithoutPostgres()) return;
  eventStoreContract('postgres', () => storeAt(postgresLocation()));
  readModelStoreContract('postgres', () => storeAt(postgresLocation()));
  inlineViewsContract('postgres', postgresLocation);
});
