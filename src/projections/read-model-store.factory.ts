import { join } from 'node:path';
import { Config } from '../config/config';
import { ReadModelStore } from './read-model-store.port';
import { SqliteReadModelStore } from './sqlite/sqlite-read-model-store.adapter';

export async function createReadModelStore(config: Config): Promise<ReadModelStore> {
  // With DATABASE_URL the read models live in PostgreSQL too (also when events are in EventStoreDB).
  if (config.databaseUrl) {
    const { PostgresReadModelStore } = await import('./postgres/postgres-read-model-store.adapter.js');
    return PostgresReadModelStore.open(config.databaseUrl);
  }
  return new SqliteReadModelStore(join(config.dataDir, 'read-models.sqlite'));
}
