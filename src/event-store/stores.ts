import { DynamicModule, Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Config, ConfigError } from '../config/config';
import { CONFIG } from '../config/config.module';
import { EVENT_STORE, EventStore } from './event-store.port';
import { DocumentProjection, READ_MODEL_STORE, ReadModelStore } from './read-model.port';
import { SqliteStore } from './sqlite/sqlite-store.adapter';

/** The stores a configuration names. */
export interface Stores {
  events: EventStore;
  readModels: ReadModelStore;
  /** True when events and read models share a database (SQLite, PostgreSQL): every append writes the views; false with EventStoreDB. */
  inline: boolean;
  close(): Promise<void>;
}

export const STORES = Symbol('Stores');
/** The projections the service keeps, as given to StoreModule.forRoot. */
export const PROJECTIONS = Symbol('Projections');

/** The one place that picks the backends from the configuration. */
export async function openStores(config: Config, projections: readonly DocumentProjection[]): Promise<Stores> {
  if (config.eventStoreConnectionString) {
    // Loaded only when used: the client brings gRPC and registers global protobuf classes.
    const { EventStoreDbEventStore } = await import('./esdb/esdb-event-store.adapter.js');
    let events: EventStore;
    try {
      events = new EventStoreDbEventStore(config.eventStoreConnectionString);
    } catch (error) {
      throw new ConfigError('EVENTSTORE_CONNECTION_STRING', `is not a usable connection string: ${(error as Error).message}`);
    }
    // Read models stay in PostgreSQL with DATABASE_URL, else in the data folder.
    const readModels = config.databaseUrl
      ? await (await import('./postgres/postgres-store.adapter.js')).PostgresStore.open(config.databaseUrl)
      : new SqliteStore(join(config.dataDir, 'read-models.sqlite'));
    return { events, readModels, inline: false, close: async () => (await events.close(), await readModels.close()) };
  }
  if (config.databaseUrl) {
    const { PostgresStore } = await import('./postgres/postgres-store.adapter.js');
    const store = await PostgresStore.open(config.databaseUrl, { inline: projections, maxGroup: config.appendGroupMax });
    return { events: store, readModels: store, inline: true, close: () => store.close() };
  }
  const earlier = join(config.dataDir, 'read-models.sqlite');
  if (existsSync(earlier)) {
    new Logger('Stores').warn(`${earlier} is no longer used: read models now live in events.sqlite beside the events; it can be deleted`);
  }
  const store = new SqliteStore(join(config.dataDir, 'events.sqlite'), { inline: projections, maxGroup: config.appendGroupMax });
  return { events: store, readModels: store, inline: true, close: () => store.close() };
}

/** The stores as Nest providers; they close after the requests in flight and the followers. */
@Global()
@Module({})
export class StoreModule implements OnApplicationShutdown {
  constructor(@Inject(STORES) private readonly stores: Stores) {}
  static forRoot(projections: readonly DocumentProjection[]): DynamicModule {
    return {
      module: StoreModule,
      providers: [
        { provide: PROJECTIONS, useValue: projections },
        { provide: STORES, inject: [CONFIG], useFactory: (config: Config) => openStores(config, projections) },
        { provide: EVENT_STORE, inject: [STORES], useFactory: (stores: Stores) => stores.events },
        { provide: READ_MODEL_STORE, inject: [STORES], useFactory: (stores: Stores) => stores.readModels },
      ],
      exports: [PROJECTIONS, STORES, EVENT_STORE, READ_MODEL_STORE],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stores.close();
  }
}
