import { Module } from '@nestjs/common';
import { ACTION_PROTO, loadActionProto } from './api/action-proto';
import { ActionsApi, SIGNING_KEY_SOURCE, randomSigningKeys } from './api/actions.api';
import { ActionsController } from './api/actions.controller';

/** ZITADEL's Actions v2 for events: targets and executions, and the delivery of matching events to targets. */
@Module({
  controllers: [ActionsController],
  providers: [
    { provide: ACTION_PROTO, useFactory: loadActionProto },
    { provide: SIGNING_KEY_SOURCE, useValue: randomSigningKeys },
    ActionsApi,
  ],
  exports: [ActionsApi, ACTION_PROTO],
})
export class ActionsModule {}
