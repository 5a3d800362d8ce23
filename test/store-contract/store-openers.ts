import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStore } from '../../src/event-store/event-store.port';
import { DocumentProjection, ReadModelStore } from '../../src/event-store/read-model.port';
import { PostgresStore } from '../../src/event-store/postgres/postgres-store.adapter';
import { SqliteStore } from '../../src/event-store/sqlite/sqlite-store.adapter';
import { createTestDatabase } from '../postgres/test-database';

/** A fresh store for a suite, another client of it, and what removes both. */
export interface OpenedStore<S> {
  store: S;
  /** Another client of the same store, as a second process (the CLI, another instance) opens it. */
  another(): Promise<S>;
  cleanup(): Promise<void>;
}

/** Clients of one fresh location (a file, a database), each with inline projections of its own. */
export interface StoreLocation {
  open(inline: readonly DocumentProjection[]): Promise<EventStore & ReadModelStore>;
  /** Closes every client opened and removes the location. */
  cleanup(): Promise<void>;
}

type Closable = { close(): Promise<void> };

/** A location in a temporary folder: `open(inline)` opens the store file there. */
export function sqliteLocation(make = (file: string, inline: readonly DocumentProjection[]) => new SqliteStore(file, { inline })): StoreLocation {
  const dir = mkdtempSync(join(tmpdir(), 'mfa-contract-'));
  const clients: Closable[] = [];
  return {
    open: async (inline) => {
      const store = make(join(dir, 'events.sqlite'), inline);
      clients.push(store);
      return store;
    },
    cleanup: async () => {
      for (const store of clients.splice(0)) await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A location in a PostgreSQL database of its own, dropped by cleanup. */
export async function postgresLocation(): Promise<StoreLocation> {
  const database = await createTestDatabase();
  const clients: Closable[] = [];
  return {
    open: async (inline) => {
      const store = await PostgresStore.open(database.url, { inline });
      clients.push(store);
      return store;
    },
    cleanup: async () => {
      for (const store of clients.splice(0)) await store.close();
      await database.drop();
    },
  };
}

/** The first client of a location with no inline projections, as the event store and read model contracts use it. */
export async function storeAt<S>(location: StoreLocation | Promise<StoreLocation>): Promise<OpenedStore<S>> {
  const where = await location;
  return { store: (await where.open([])) as S, another: async () => (await where.open([])) as S, cleanup: () => where.cleanup() };
}
