import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { SecurityNotificationsSubscriber } from './security-notifications/security-notifications.subscriber';
import { SubscriptionRunner } from './subscription.runner';

/**
 * Subscribers inside the service: @EventsHandler(CommittedEvent) classes fed by the subscription
 * runner with committed events only. Add a subscriber to `providers`.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [SubscriptionRunner, SecurityNotificationsSubscriber],
  exports: [SubscriptionRunner],
})
export class SubscribersModule {}
