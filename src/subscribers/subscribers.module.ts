import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { SecurityNotificationsSubscriber } from './security-notifications/security-notifications.subscriber';
import { SubscribersService } from './subscribers.service';

/** The subscribers inside the service, each an @EventsHandler(CommittedEvents) provider: add one to `SUBSCRIBERS`. */
export const SUBSCRIBERS = [SecurityNotificationsSubscriber];

@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [SubscribersService, ...SUBSCRIBERS],
  exports: [SubscribersService],
})
export class SubscribersModule {}
