import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresReadModelStore } from '../../src/projections/postgres/postgres-read-model-store.adapter';
import { ReadModelStore } from '../../src/projections/read-model-store.port';
import { SqliteReadModelStore } from '../../src/projections/sqlite/sqlite-read-model-store.adapter';
import { createTestDatabase } from '../postgres/test-database';

/** A fresh read model store for a suite, another client of it, and what removes both. */
export interface OpenedReadModels {
  store: ReadModelStore;
  /** Another client of the same store, as a second process (the CLI) opens it. */
  another(): Promise<ReadModelStore>;
  cleanup(): Promise<void>;
}

/** SQLite read models in a file of a temporary folder of their own. */
export async function openSqliteReadModels(): Promise<OpenedReadModels> {
  const dir = mkdtempSync(join(tmpdir(), 'mfa-read-models-'));
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
}

/** PostgreSQL read models in a database of their own, dropped by cleanup. */
export async function openPostgresReadModels(): Promise<OpenedReadModels> {
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
}
