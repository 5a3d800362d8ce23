import { Global, Module } from '@nestjs/common';
import { Config } from '../config/config';
import { CONFIG } from '../config/config.module';
import { STATE_CACHE, StateCacheOptions, StreamCommandHandler } from './stream-command.handler';

@Global()
@Module({
  providers: [
    StreamCommandHandler,
    {
      provide: STATE_CACHE,
      inject: [CONFIG],
      useFactory: (config: Config): StateCacheOptions => ({ capacity: config.stateCacheSize, minEvents: 64 }),
    },
  ],
  exports: [StreamCommandHandler],
})
export class CommandsModule {}
