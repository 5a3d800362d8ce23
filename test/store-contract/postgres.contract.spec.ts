import { describe } from 'node:test';
import { PostgresEventStore } from '../../src/event-store/postgres/postgres-event-store.adapter';
import { skippedWithoutPostgres } from '../postgres/test-database';
import { eventStoreContract } from './event-store.contract';
import { readModelStoreContract } from './read-model-store.contract';
import { openInTestDatabase, openPostgresReadModels } from './store-openers';

describe('PostgreSQL stores', async () => {
  if (await skippedWithoutPostgres()) return;

  eventStoreContract('postgres', () => openInTestDatabase((url) => PostgresEventStore.open(url)));

  readModelStoreContract('postgres', openPostgresReadModels);
});
