import { Inject, Injectable } from '@nestjs/common';
import { CommandContext, MAX_ATTEMPTS, UserCommandRunner } from '../user-command.runner';
import { EVENT_STORE, EventStore, WrongExpectedRevisionError } from '../../event-store/event-store.port';
import { CLOCK, Clock } from '../../shared/clock';
import { ID_GENERATOR, IdGenerator } from '../../shared/id-generator';
import {
  Reservation,
  UsernameEvent,
  decideReleaseUsername,
  decideReserveUsername,
  evolveReservation,
  noReservation,
  usernameStreamId,
} from './username-reservation.decide';

/** Runs username reservations against the store, retrying on a conflict like every command. */
@Injectable()
export class UsernameReservations {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    private readonly users: UserCommandRunner,
  ) {}

  /** Reserves the name for the user; true when this call made the reservation. */
  async reserve(orgId: string, userName: string, userId: string, context: CommandContext): Promise<boolean> {
    const streamId = usernameStreamId(orgId, userName);
    for (let attempt = 1; ; attempt++) {
      const { events, revision } = await this.store.readStream(streamId);
      const reservation = events.reduce<Reservation>(
        (state, event) => evolveReservation(state, event as unknown as UsernameEvent & { createdAt: Date }),
        noReservation,
      );
      const holderState =
        reservation.holder && reservation.holder !== userId ? (await this.users.load(reservation.holder)).state : null;
      const decided = decideReserveUsername({ userId, userName, now: this.clock.now() }, reservation, holderState);
      if (decided.length === 0) return false;
      try {
        await this.store.append(streamId, revision, this.toNew(decided, orgId, context));
        return true;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  /** Gives up a reservation this request made for a user it then could not create, if still its own. */
  async release(orgId: string, userName: string, userId: string, context: CommandContext): Promise<void> {
    const streamId = usernameStreamId(orgId, userName);
    for (let attempt = 1; ; attempt++) {
      const { events, revision } = await this.store.readStream(streamId);
      const reservation = events.reduce<Reservation>(
        (state, event) => evolveReservation(state, event as unknown as UsernameEvent & { createdAt: Date }),
        noReservation,
      );
      const decided = decideReleaseUsername({ userId, userName }, reservation);
      if (decided.length === 0) return;
      try {
        await this.store.append(streamId, revision, this.toNew(decided, orgId, context));
        return;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  private toNew(events: UsernameEvent[], orgId: string, { caller, correlationId }: CommandContext) {
    const createdAt = this.clock.now();
    return events.map((event) => ({
      eventId: this.ids.eventId(),
      type: event.type,
      data: event.data,
      metadata: { resourceOwner: orgId, creator: caller.userId, correlationId },
      createdAt,
    }));
  }
}
