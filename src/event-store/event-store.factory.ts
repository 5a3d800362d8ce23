import { join } from 'node:path';
import { Config } from '../config/config';
import { EventStore } from './event-store.port';
import { SqliteEventStore } from './sqlite/sqlite-event-store.adapter';

/** The one place that picks a backend from the configuration. */
export async function createEventStore(config: Config): Promise<EventStore> {
  return new SqliteEventStore(join(config.dataDir, 'events.sqlite'));
}
