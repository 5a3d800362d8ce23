import { describe, it } from 'node:test';
import { USER_NOT_FOUND, events, given, verifiedUser } from '../testing/decider-spec';
import { decideDeleteUser } from './delete-user.decide';

const command = { userId: 'user-1' };

describe('DeleteUser rules', () => {
  it('removes an active user, naming its username so that the name can be given out again', () => {
    given(events.humanAdded({ userName: 'mickey' }))
      .when(decideDeleteUser, command)
      .then({ type: 'user.removed', data: { userName: 'mickey' }, resourceOwner: 'org-1' });
  });

  it('removes a user with a factor set up, owned by the user\'s organization', () => {
    given(events.humanAdded({}, 'org-7'), events.emailVerified('minnie@example.com', 'org-7'), events.otpEmailAdded('org-7'))
      .when(decideDeleteUser, command)
      .then({ type: 'user.removed', data: { userName: 'minnie' }, resourceOwner: 'org-7' });
  });

  it('fails with COMMAND-4g3xq when the user does not exist', () => {
    given().when(decideDeleteUser, command).thenFails(USER_NOT_FOUND);
  });

  it('fails with COMMAND-4g3xq when the user was already deleted', () => {
    given(...verifiedUser(), events.removed()).when(decideDeleteUser, command).thenFails(USER_NOT_FOUND);
  });
});
