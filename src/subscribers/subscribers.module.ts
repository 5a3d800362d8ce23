import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { SubscribersService } from './subscribers.service';

/** Feeds every @EventsHandler(CommittedEvents) provider of the application, wherever it is declared. */
@Global()
@Module({ imports: [DiscoveryModule], providers: [SubscribersService], exports: [SubscribersService] })
export class SubscribersModule {}
