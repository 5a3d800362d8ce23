import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PostgresReadModelStore } from '../../src/projections/postgres/postgres-read-model-store.adapter';
import { SqliteReadModelStore } from '../../src/projections/sqlite/sqlite-read-model-store.adapter';
import { TEST_POSTGRES_URL, createTestDatabase, postgresReachable } from '../postgres/test-database';
import { readModelGenerationsContract } from './read-model-generations.contract';

readModelGenerationsContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mfa-generations-'));
  const file = join(dir, 'read-models.sqlite');
  const store = new SqliteReadModelStore(file);
  return {
    store,
    another: async () => new SqliteReadModelStore(file),
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('PostgreSQL read model generations', async () => {
  if (!(await postgresReachable(TEST_POSTGRES_URL))) {
    it(`skipped: PostgreSQL not reachable at ${TEST_POSTGRES_URL} (set TEST_POSTGRES_URL)`, { skip: true }, () => undefined);
    return;
  }
  readModelGenerationsContract('postgres', async () => {
    const database = await createTestDatabase();
    const store = await PostgresReadModelStore.open(database.url);
    return {
      store,
      another: () => PostgresReadModelStore.open(database.url),
      async cleanup() {
        await store.close();
        await database.drop();
      },
    };
  });
});
