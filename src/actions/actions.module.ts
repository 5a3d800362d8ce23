import { Logger, Module } from '@nestjs/common';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Config } from '../config/config';
import { CONFIG } from '../config/config.module';
import { ACTION_PROTO, loadActionProto } from './api/action-proto';
import { ActionsApi, SIGNING_KEY_SOURCE, randomSigningKeys } from './api/actions.api';
import { ActionsController } from './api/actions.controller';
import { DeliveriesController } from './delivery/deliveries.controller';
import { DeliveriesService } from './delivery/deliveries.service';
import { OUTBOX_STORE, OutboxStore } from './delivery/outbox.port';
import { SIGNING_KEY_CIPHER, SigningKeyCipher } from './signing-key-cipher';

/** The outbox lives where the read models do: PostgreSQL with DATABASE_URL, else a SQLite file in the data folder. */
async function openOutbox(config: Config): Promise<OutboxStore> {
  if (config.databaseUrl) {
    const { PostgresOutboxStore } = await import('./delivery/postgres-outbox.adapter.js');
    return new PostgresOutboxStore(config.databaseUrl);
  }
  const { SqliteOutboxStore } = await import('./delivery/sqlite-outbox.adapter.js');
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  return new SqliteOutboxStore(join(config.dataDir, 'actions.sqlite'), join(config.dataDir, 'actions.lease'));
}

function signingKeyCipher(config: Config): SigningKeyCipher {
  const secret = config.actions.signingKeySecret;
  if (!secret && config.production) {
    new Logger('Actions').warn(
      "targets' signing keys are kept unsealed in the event store and the outbox: whoever reads the database can sign as this service. " +
        'Set ACTIONS_SIGNING_KEY_SECRET (32 or more random characters, kept outside the database) to seal new keys.',
    );
  }
  return new SigningKeyCipher(secret);
}

/** ZITADEL's Actions v2 for events: targets and executions, and the delivery of matching events to targets. */
@Module({
  controllers: [ActionsController, DeliveriesController],
  providers: [
    { provide: ACTION_PROTO, useFactory: loadActionProto },
    { provide: SIGNING_KEY_SOURCE, useValue: randomSigningKeys },
    { provide: OUTBOX_STORE, inject: [CONFIG], useFactory: openOutbox },
    { provide: SIGNING_KEY_CIPHER, inject: [CONFIG], useFactory: signingKeyCipher },
    ActionsApi,
    DeliveriesService,
  ],
  exports: [ActionsApi, ACTION_PROTO],
})
export class ActionsModule {}
