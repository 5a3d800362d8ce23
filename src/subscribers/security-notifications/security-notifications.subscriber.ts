import { Inject, Logger, OnModuleInit } from '@nestjs/common';
import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { READ_MODEL_STORE, ReadModelStore } from '../../projections/read-model-store.port';
import { CommittedEvent } from '../committed.event';
import { securityNotificationsView } from './security-notifications.view';

/**
 * Records every removal of an OTP Email factor, with who removed it and when, for admins to
 * review, and logs it. Idempotent by event position: a second delivery of the same event finds
 * its row written and does nothing.
 */
@EventsHandler(CommittedEvent)
export class SecurityNotificationsSubscriber implements IEventHandler<CommittedEvent>, OnModuleInit {
  private readonly logger = new Logger('SecurityNotifications');
  private readonly types = new Set(securityNotificationsView.eventTypes);

  constructor(@Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore) {}

  async onModuleInit(): Promise<void> {
    await this.readModels.prepare(securityNotificationsView);
  }

  async handle({ event }: CommittedEvent): Promise<void> {
    if (!this.types.has(event.type)) return;
    const { position } = await this.readModels.checkpoint(securityNotificationsView);
    if (event.position <= position) return;
    await this.readModels.apply(securityNotificationsView, [event], event.position);
    const notification = securityNotificationsView.evolve(null, event)!;
    this.logger.log(
      `security notification: OTP Email of user ${notification.userId} (organization ${notification.resourceOwner}) ` +
        `was removed by ${notification.creator} at ${notification.creationDate} (request ${notification.correlationId})`,
    );
  }
}
