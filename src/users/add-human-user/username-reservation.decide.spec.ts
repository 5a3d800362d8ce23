import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { USER_ALREADY_EXISTS, assertFails, events, stateOf } from '../testing/decider-spec';
import { UserEvent } from '../user.events';
import {
  Reservation,
  STALE_RESERVATION_MS,
  UsernameEvent,
  decideReleaseUsername,
  decideReserveUsername,
  evolveReservation,
  noReservation,
  usernameStreamId,
} from './username-reservation.decide';

const T0 = new Date('2025-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

const reserved = (userId: string, createdAt = T0) => ({
  type: 'user.username.reserved' as const,
  data: { userId, userName: 'minnie' },
  createdAt,
});
const released = (userId: string, createdAt = T0) => ({
  type: 'user.username.released' as const,
  data: { userId, userName: 'minnie' },
  createdAt,
});

/**
 * Given the reservation stream's events and the holder's user events (null: the decider is not
 * asked about a holder, as when there is none or it is the caller itself), when `userId` reserves
 * the name at `now`, then...
 */
function given(reservation: Array<UsernameEvent & { createdAt: Date }>, holderEvents: UserEvent[] | null) {
  const state: Reservation = reservation.reduce(evolveReservation, noReservation);
  return {
    when(userId: string, now = at(1000)) {
      const decide = () =>
        decideReserveUsername({ userId, userName: 'minnie', now }, state, holderEvents && stateOf(holderEvents));
      return {
        then: (...expected: UsernameEvent[]) => assert.deepEqual(decide(), expected),
        thenFails: () => assertFails(decide, USER_ALREADY_EXISTS),
      };
    },
  };
}

const reserveFor = (userId: string): UsernameEvent => ({
  type: 'user.username.reserved',
  data: { userId, userName: 'minnie' },
});

describe('username reservation rules', () => {
  it('reserves a name nobody has reserved', () => {
    given([], null).when('user-1').then(reserveFor('user-1'));
  });

  it('appends nothing when the caller already holds the name (a retried request)', () => {
    given([reserved('user-1')], null).when('user-1').then();
  });

  it('fails with COMMAND-k2unb while an existing user holds the name', () => {
    given([reserved('user-1')], [events.humanAdded()]).when('user-2').thenFails();
  });

  it('fails with COMMAND-k2unb while the holder exists, however old its reservation', () => {
    given([reserved('user-1')], [events.humanAdded()]).when('user-2', at(365 * 24 * 3600_000)).thenFails();
  });

  it('gives the name to another user once the holder was deleted', () => {
    given([reserved('user-1')], [events.humanAdded(), events.removed()]).when('user-2').then(reserveFor('user-2'));
  });

  it('keeps a fresh reservation whose user does not exist (yet): its request may still be running', () => {
    given([reserved('user-1')], []).when('user-2', at(1000)).thenFails();
    given([reserved('user-1')], []).when('user-2', at(STALE_RESERVATION_MS)).thenFails();
  });

  it('gives up a stale reservation whose user never came to exist', () => {
    given([reserved('user-1')], []).when('user-2', at(STALE_RESERVATION_MS + 1)).then(reserveFor('user-2'));
  });

  it('counts staleness from the latest reservation, not the first', () => {
    const stream = [reserved('user-1', T0), released('user-1', at(10)), reserved('user-3', at(STALE_RESERVATION_MS))];
    given(stream, []).when('user-2', at(STALE_RESERVATION_MS + 1000)).thenFails();
  });

  it('reserves a name that was released', () => {
    given([reserved('user-1'), released('user-1')], null).when('user-2').then(reserveFor('user-2'));
  });

  it('evolves to the last reservation, and to none after a release', () => {
    assert.deepEqual([reserved('user-1')].reduce(evolveReservation, noReservation), { holder: 'user-1', since: T0 });
    assert.deepEqual([reserved('user-1'), released('user-1')].reduce(evolveReservation, noReservation), noReservation);
    assert.deepEqual(
      [reserved('user-1'), released('user-1'), reserved('user-2', at(5))].reduce(evolveReservation, noReservation),
      { holder: 'user-2', since: at(5) },
    );
  });
});

describe('username release rules', () => {
  const release = (stream: Array<UsernameEvent & { createdAt: Date }>, userId: string) =>
    decideReleaseUsername({ userId, userName: 'minnie' }, stream.reduce(evolveReservation, noReservation));

  it('releases the name its holder reserved', () => {
    assert.deepEqual(release([reserved('user-1')], 'user-1'), [
      { type: 'user.username.released', data: { userId: 'user-1', userName: 'minnie' } },
    ]);
  });

  it('appends nothing when another user took the name over meanwhile: a late release must not free it', () => {
    assert.deepEqual(release([reserved('user-1'), reserved('user-2', at(STALE_RESERVATION_MS + 1))], 'user-1'), []);
  });

  it('appends nothing when the name is not reserved, or already released', () => {
    assert.deepEqual(release([], 'user-1'), []);
    assert.deepEqual(release([reserved('user-1'), released('user-1')], 'user-1'), []);
  });
});

describe('username reservation streams', () => {
  it('are the same for names that differ only in case or Unicode form', () => {
    assert.equal(usernameStreamId('org-1', 'Minnie@Example.com'), usernameStreamId('org-1', 'minnie@example.com'));
    assert.equal(usernameStreamId('org-1', 'MINNIE'), usernameStreamId('org-1', 'minnie'));
    // U+FB01 (the "fi" ligature) is "fi" in NFKC.
    assert.equal(usernameStreamId('org-1', '\uFB01fi'), usernameStreamId('org-1', 'fifi'));
  });

  it('differ between organizations and between names', () => {
    assert.notEqual(usernameStreamId('org-1', 'minnie'), usernameStreamId('org-2', 'minnie'));
    assert.notEqual(usernameStreamId('org-1', 'minnie'), usernameStreamId('org-1', 'mickey'));
    // The key cannot be forged by moving characters between organization and name.
    assert.notEqual(usernameStreamId('org-1x', 'y'), usernameStreamId('org-1', 'xy'));
  });
});
