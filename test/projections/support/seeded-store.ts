import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedUserEvents } from '../../../bench/user-events.seeder';
import { loadConfig } from '../../../src/config/config';
import { openStores } from '../../../src/event-store/stores';
import { USER_PROJECTIONS } from '../../../src/users/read-models/user.projections';
import { TestDatabase, createTestDatabase } from '../../postgres/test-database';

export interface SeededStore {
  dataDir: string;
  /** The environment of the store: give it to startServer and to the CLI. */
  env: Record<string, string>;
  /** User ids of the seed are `${prefix}${n}`. */
  prefix: string;
  users: number;
  cleanup(): Promise<void>;
}

/**
 * A data folder (and, in the PostgreSQL and EventStoreDB passes of the suites, the store the run
 * points at) holding `events` seeded user events, written through the same factory the service
 * uses, before any server starts.
 */
export async function seededStore(events: number): Promise<SeededStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mfa-seeded-'));
  const env: Record<string, string> = { DATA_DIR: dataDir };
  let database: TestDatabase | undefined;
  if (process.env.DATABASE_URL) {
    database = await createTestDatabase(process.env.DATABASE_URL);
    env.DATABASE_URL = database.url;
  }
  if (process.env.EVENTSTORE_CONNECTION_STRING) env.EVENTSTORE_CONNECTION_STRING = process.env.EVENTSTORE_CONNECTION_STRING;
  const prefix = `seed${randomBytes(3).toString('hex')}-`;
  const stores = await openStores(loadConfig(env), USER_PROJECTIONS);
  let users: number;
  try {
    ({ users } = await seedUserEvents(stores.events, events, { prefix }));
  } finally {
    await stores.close();
  }
  return {
    dataDir,
    env,
    prefix,
    users,
    async cleanup() {
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Fewer events where seeding is slow: through PostgreSQL, each append is a round trip, and with the
 * EventStoreDB emulator every server start reads a log that all suites share.
 */
export function seedSize(events: number): number {
  if (process.env.EVENTSTORE_CONNECTION_STRING) return Math.min(events, 1500);
  if (process.env.DATABASE_URL) return Math.min(events, 4000);
  return events;
}
