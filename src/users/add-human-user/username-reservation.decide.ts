import { createHash } from 'node:crypto';
import { Errors } from '../../errors/errors';
import { UserState } from '../user.state';

/**
 * Usernames are unique within an organization, ignoring case. Each (organization, username) has a
 * reservation stream; appending to it with an expected revision makes the check race-free.
 */
export const UsernameEventType = {
  Reserved: 'user.username.reserved',
  Released: 'user.username.released',
} as const;

export type UsernameEvent =
  | { type: typeof UsernameEventType.Reserved; data: { userId: string; userName: string } }
  | { type: typeof UsernameEventType.Released; data: { userId: string; userName: string } };

export interface Reservation {
  holder: string | null;
  since: Date | null;
}

export const noReservation: Reservation = { holder: null, since: null };

/** A reservation whose user was never created within this time is stale (its request died). */
export const STALE_RESERVATION_MS = 60_000;

export function usernameStreamId(orgId: string, userName: string): string {
  const key = JSON.stringify([orgId, userName.normalize('NFKC').toLowerCase()]);
  return `username-${createHash('sha256').update(key).digest('hex')}`;
}

export function evolveReservation(_state: Reservation, event: UsernameEvent & { createdAt: Date }): Reservation {
  return event.type === UsernameEventType.Reserved
    ? { holder: event.data.userId, since: event.createdAt }
    : noReservation;
}

export interface ReserveUsername {
  userId: string;
  userName: string;
  now: Date;
}

/**
 * Events that make `userId` the holder, or none when it already is. A holder whose user was
 * deleted, or never came to exist, gives the name up.
 */
export function decideReserveUsername(
  command: ReserveUsername,
  reservation: Reservation,
  holderState: UserState | null,
): UsernameEvent[] {
  if (reservation.holder === command.userId) return [];
  const free =
    reservation.holder === null ||
    holderState?.status === 'removed' ||
    (holderState?.status === 'absent' &&
      command.now.getTime() - (reservation.since?.getTime() ?? 0) > STALE_RESERVATION_MS);
  if (!free) throw Errors.userAlreadyExists();
  return [{ type: UsernameEventType.Reserved, data: { userId: command.userId, userName: command.userName } }];
}

/**
 * Events that give up `userId`'s reservation; none when someone else holds the name by now (it
 * may have taken over once this holder counted as stale), so a late release never frees their name.
 */
export function decideReleaseUsername(command: { userId: string; userName: string }, reservation: Reservation): UsernameEvent[] {
  if (reservation.holder !== command.userId) return [];
  return [{ type: UsernameEventType.Released, data: { userId: command.userId, userName: command.userName } }];
}
