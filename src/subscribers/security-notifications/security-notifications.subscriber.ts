import { Inject, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { READ_MODEL_STORE, ReadModelStore } from '../../projections/read-model-store.port';
import { CLOCK, Clock, systemClock } from '../../shared/clock';
import { CommittedEvent } from '../committed.event';
import { securityNotificationsView } from './security-notifications.view';

/**
 * Removals older than this are history being recorded (the first start of the subscription over an
 * existing log): they are logged at debug level only, so the log is not flooded.
 */
const HISTORY_MS = 5 * 60_000;

/**
 * Records every removal of an OTP Email factor, with who removed it and when, for admins to
 * review, and logs it. Idempotent by event position: a second delivery of the same event finds
 * its row written and does nothing.
 */
@EventsHandler(CommittedEvent)
export class SecurityNotificationsSubscriber implements IEventHandler<CommittedEvent>, OnModuleInit {
  private readonly logger = new Logger('SecurityNotifications');
  private readonly types = new Set(securityNotificationsView.eventTypes);

  constructor(
    @Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.readModels.prepare(securityNotificationsView);
  }

  async handle({ event }: CommittedEvent): Promise<void> {
    if (!this.types.has(event.type)) return;
    const { position } = await this.readModels.checkpoint(securityNotificationsView);
    if (event.position <= position) return;
    await this.readModels.apply(securityNotificationsView, [event], event.position);
    const notification = securityNotificationsView.evolve(null, event)!;
    const text =
      `security notification: OTP Email of user ${notification.userId} (organization ${notification.resourceOwner}) ` +
      `was removed by ${notification.creator} at ${notification.creationDate} (request ${notification.correlationId})`;
    if (this.clock.now().getTime() - event.createdAt.getTime() > HISTORY_MS) this.logger.debug(text);
    else this.logger.log(text);
  }
}
