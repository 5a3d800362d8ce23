import { Inject, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { READ_MODEL_STORE, ReadModelStore } from '../event-store/read-model.port';
import { CLOCK, Clock, systemClock } from '../shared/clock';
import { CommittedEvents } from '../subscribers/committed.event';
import { securityNotificationsView } from './security-notifications.view';

/**
 * Removals older than this are history being recorded (the first start of the subscriber over an
 * existing log): they are logged at debug level only, so the log is not flooded.
 */
const HISTORY_MS = 5 * 60_000;

/**
 * Records every removal of an OTP Email factor, with who removed it and when, for admins to
 * review, and logs it, one transaction per delivered batch. Idempotent by event position: the
 * view's checkpoint moves with its rows, so a second delivery of an event finds it behind the
 * checkpoint and neither writes nor logs it again.
 */
@EventsHandler(CommittedEvents)
export class SecurityNotificationsSubscriber implements IEventHandler<CommittedEvents>, OnModuleInit {
  private readonly logger = new Logger('SecurityNotifications');

  constructor(
    @Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.readModels.prepare(securityNotificationsView);
  }

  async handle({ events }: CommittedEvents): Promise<void> {
    const removals = events.filter((event) => securityNotificationsView.eventTypes.includes(event.type));
    if (removals.length === 0) return;
    const { position } = await this.readModels.checkpoint(securityNotificationsView);
    const [applied] = await this.readModels.apply([securityNotificationsView], removals, removals[removals.length - 1].position);
    if (applied.failure) throw new Error(applied.failure.message);
    const now = this.clock.now().getTime();
    for (const event of removals) {
      if (event.position <= position) continue;
      const notification = securityNotificationsView.evolve(null, event)!;
      const text =
        `security notification: OTP Email of user ${notification.userId} (organization ${notification.resourceOwner}) ` +
        `was removed by ${notification.creator} at ${notification.creationDate} (request ${notification.correlationId})`;
      if (now - event.createdAt.getTime() > HISTORY_MS) this.logger.debug(text);
      else this.logger.log(text);
    }
  }
}
