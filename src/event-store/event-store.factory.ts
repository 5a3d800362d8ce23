import { join } from 'node:path';
import { Config, ConfigError } from '../config/config';
import { EventStore } from './event-store.port';
import { SqliteEventStore } from './sqlite/sqlite-event-store.adapter';

/** The one place that picks a backend from the configuration. */
export async function createEventStore(config: Config): Promise<EventStore> {
  if (config.eventStoreConnectionString) {
    // Loaded only when used: the client brings gRPC and registers global protobuf classes.
    const { EventStoreDbEventStore } = await import('./esdb/esdb-event-store.adapter.js');
    try {
      return new EventStoreDbEventStore(config.eventStoreConnectionString);
    } catch (error) {
      throw new ConfigError('EVENTSTORE_CONNECTION_STRING', `is not a usable connection string: ${(error as Error).message}`);
    }
  }
  if (config.databaseUrl) {
    const { PostgresEventStore } = await import('./postgres/postgres-event-store.adapter.js');
    return PostgresEventStore.open(config.databaseUrl);
  }
  return new SqliteEventStore(join(config.dataDir, 'events.sqlite'));
}
