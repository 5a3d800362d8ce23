import { describe } from 'node:test';
import { PostgresEventStore } from '../../src/event-store/postgres/postgres-event-store.adapter';
import { createTestDatabase, skippedWithoutPostgres } from '../postgres/test-database';
import { eventStoreContract } from './event-store.contract';
import { openPostgresReadModels } from './read-model-openers';
import { readModelStoreContract } from './read-model-store.contract';

describe('PostgreSQL stores', async () => {
  if (await skippedWithoutPostgres()) return;

  eventStoreContract('postgres', async () => {
    const database = await createTestDatabase();
    const store = await PostgresEventStore.open(database.url);
    return {
      store,
      another: () => PostgresEventStore.open(database.url),
      async cleanup() {
        await store.close();
        await database.drop();
      },
    };
  });

  readModelStoreContract('postgres', openPostgresReadModels);
});
