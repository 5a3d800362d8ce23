import { Inject, Injectable } from '@nestjs/common';
import { CommandContext, Decider, StreamCommandHandler } from '../../commands/stream-command.handler';
import { CLOCK, Clock } from '../../shared/clock';
import { userStreamId } from '../user.events';
import { userDecider } from '../user.state';
import {
  Reservation,
  UsernameEvent,
  decideReleaseUsername,
  decideReserveUsername,
  evolveReservation,
  noReservation,
  usernameStreamId,
} from './username-reservation.decide';

const reservationDecider: Decider<Reservation> = {
  initialState: noReservation,
  evolve: (state, event) => evolveReservation(state, event as unknown as UsernameEvent & { createdAt: Date }),
};

/** Username reservations, run like every command: one stream per (organization, username). */
@Injectable()
export class UsernameReservations {
  constructor(
    private readonly commands: StreamCommandHandler,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Reserves the name for the user; true when this call made the reservation. */
  async reserve(orgId: string, userName: string, userId: string, context: CommandContext): Promise<boolean> {
    const { appended } = await this.commands.handle(
      usernameStreamId(orgId, userName),
      reservationDecider,
      async (reservation) => {
        // Whether another holder's reservation still stands depends on that user as it is now.
        const holder =
          reservation.holder && reservation.holder !== userId
            ? (await this.commands.load(userStreamId(reservation.holder), userDecider)).state
            : null;
        return decideReserveUsername({ userId, userName, now: this.clock.now() }, reservation, holder).map((event) => ({
          ...event,
          resourceOwner: orgId,
        }));
      },
      context,
      false,
    );
    return appended.length > 0;
  }

  /** Gives up a reservation this request made for a user it then could not create, if still its own. */
  async release(orgId: string, userName: string, userId: string, context: CommandContext): Promise<void> {
    await this.commands.handle(
      usernameStreamId(orgId, userName),
      reservationDecider,
      (reservation) => decideReleaseUsername({ userId, userName }, reservation).map((event) => ({ ...event, resourceOwner: orgId })),
      context,
      false,
    );
  }
}
