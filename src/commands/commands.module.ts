import { Global, Module } from '@nestjs/common';
import { StreamCommandHandler } from './stream-command.handler';

@Global()
@Module({ providers: [StreamCommandHandler], exports: [StreamCommandHandler] })
export class CommandsModule {}
