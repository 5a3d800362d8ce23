import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Config } from '../config/config';
import { CONFIG } from '../config/config.module';
import { PROJECTIONS, ProjectionRunner } from '../projections/projection.runner';
import { ALL_PROJECTIONS } from '../projections/projection.registry';
import { createReadModelStore } from '../projections/read-model-store.factory';
import { READ_MODEL_STORE, ReadModelStore } from '../projections/read-model-store.port';
import { createEventStore } from './event-store.factory';
import { EVENT_STORE, EventStore } from './event-store.port';

/** The event store, the read model store and the projections that connect them. */
@Global()
@Module({
  providers: [
    { provide: EVENT_STORE, inject: [CONFIG], useFactory: (config: Config) => createEventStore(config) },
    { provide: READ_MODEL_STORE, inject: [CONFIG], useFactory: (config: Config) => createReadModelStore(config) },
    { provide: PROJECTIONS, useValue: ALL_PROJECTIONS },
    ProjectionRunner,
  ],
  exports: [EVENT_STORE, READ_MODEL_STORE, PROJECTIONS, ProjectionRunner],
})
export class StoreModule implements OnApplicationShutdown {
  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore,
  ) {}

  /** Runs after in-flight requests are done and the projections have stopped. */
  async onApplicationShutdown(): Promise<void> {
    await this.events.close();
    await this.readModels.close();
  }
}
