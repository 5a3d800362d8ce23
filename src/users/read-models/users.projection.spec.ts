import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordedEvent } from '../../event-store/event-store.port';
import { events } from '../testing/decider-spec';
import type { UserEvent } from '../user.events';
import { usersProjection, type UserView } from './users.projection';

/** Given events of user-7, the row the projection keeps for it. */
function viewAfter(...given: UserEvent[]): UserView | null {
  return given.reduce<UserView | null>((view, event, revision) => {
    const recorded: RecordedEvent = {
      eventId: `e${revision}`,
      type: event.type,
      data: event.data as Record<string, unknown> | null,
      metadata: { resourceOwner: event.resourceOwner, creator: 'admin-1', correlationId: 'c' },
      createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, revision)),
      streamId: 'user-7',
      revision,
      position: 100 + revision,
    };
    return usersProjection.evolve(view, recorded);
  }, null);
}

describe('the users projection', () => {
  it('keeps a deleted user as a row marked removed, without its name or email', () => {
    assert.deepEqual(viewAfter(events.humanAdded(), events.emailVerified('minnie@example.com'), events.removed()), {
      userId: '7',
      orgId: 'org-1',
      removed: true,
      userName: '',
      givenName: '',
      familyName: '',
      email: '',
      isVerified: false,
      details: { sequence: '3', changeDate: '2024-01-01T00:00:02.000Z', resourceOwner: 'org-1' },
    });
  });

  it('changes a removed row no more', () => {
    const removed = viewAfter(events.humanAdded(), events.removed());
    assert.deepEqual(viewAfter(events.humanAdded(), events.removed(), events.emailChanged('new@example.com'), events.otpEmailAdded()), removed);
  });
});
