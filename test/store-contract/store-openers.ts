import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresReadModelStore } from '../../src/projections/postgres/postgres-read-model-store.adapter';
import { ReadModelStore } from '../../src/projections/read-model-store.port';
import { SqliteReadModelStore } from '../../src/projections/sqlite/sqlite-read-model-store.adapter';
import { createTestDatabase } from '../postgres/test-database';

/** A fresh store for a suite, another client of it, and what removes both. */
export interface OpenedStore<S> {
  store: S;
  /** Another client of the same store, as a second process (the CLI) opens it. */
  another(): Promise<S>;
  cleanup(): Promise<void>;
}

export type OpenedReadModels = OpenedStore<ReadModelStore>;

/** A store in a file of a temporary folder of its own, removed by cleanup. */
export async function openInTempFolder<S extends { close(): Promise<void> }>(
  fileName: string,
  open: (file: string) => S,
): Promise<OpenedStore<S>> {
  const dir = mkdtempSync(join(tmpdir(), 'mfa-contract-'));
  const file = join(dir, fileName);
  const store = open(file);
  return {
    store,
    another: async () => open(file),
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A store in a PostgreSQL database of its own, dropped by cleanup. */
export async function openInTestDatabase<S extends { close(): Promise<void> }>(
  open: (url: string) => Promise<S>,
): Promise<OpenedStore<S>> {
  const database = await createTestDatabase();
  const store = await open(database.url);
  return {
    store,
    another: () => open(database.url),
    async cleanup() {
      await store.close();
      await database.drop();
    },
  };
}

export const openSqliteReadModels = () => openInTempFolder('read-models.sqlite', (file) => new SqliteReadModelStore(file));

export const openPostgresReadModels = () => openInTestDatabase((url) => PostgresReadModelStore.open(url));
