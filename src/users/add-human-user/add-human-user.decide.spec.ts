import { describe, it } from 'node:test';
import { USER_ALREADY_EXISTS, events, given, verifiedUser } from '../testing/decider-spec';
import { AddHumanUser, decideAddHumanUser } from './add-human-user.decide';

const addHuman = (overrides: Partial<AddHumanUser> = {}): AddHumanUser => ({
  userId: 'user-1',
  orgId: 'org-3',
  userName: 'minnie',
  givenName: 'Minnie',
  familyName: 'Mouse',
  email: 'minnie@example.com',
  isVerified: false,
  ...overrides,
});

const humanAdded = {
  type: 'user.human.added',
  data: { userName: 'minnie', firstName: 'Minnie', lastName: 'Mouse', email: 'minnie@example.com' },
  resourceOwner: 'org-3',
} as const;

describe('AddHumanUser rules', () => {
  it('adds a user in the given organization, with its email unverified', () => {
    given().when(decideAddHumanUser, addHuman()).then(humanAdded);
  });

  it('adds and verifies the email in two events when isVerified', () => {
    given()
      .when(decideAddHumanUser, addHuman({ isVerified: true }))
      .then(humanAdded, {
        type: 'user.human.email.verified',
        data: { email: 'minnie@example.com' },
        resourceOwner: 'org-3',
      });
  });

  it('keeps the username as given (case is only ignored for uniqueness)', () => {
    given()
      .when(decideAddHumanUser, addHuman({ userName: 'Minnie.Mouse' }))
      .then({ ...humanAdded, data: { ...humanAdded.data, userName: 'Minnie.Mouse' } });
  });

  it('fails with COMMAND-k2unb when a user with that id exists', () => {
    given(events.humanAdded()).when(decideAddHumanUser, addHuman()).thenFails(USER_ALREADY_EXISTS);
  });

  it('fails with COMMAND-k2unb when a user with that id exists in another organization', () => {
    given(events.humanAdded({}, 'org-other'))
      .when(decideAddHumanUser, addHuman({ orgId: 'org-3' }))
      .thenFails(USER_ALREADY_EXISTS);
  });

  it('fails with COMMAND-k2unb for the id of a deleted user: ids are never reused', () => {
    given(...verifiedUser(), events.removed()).when(decideAddHumanUser, addHuman()).thenFails(USER_ALREADY_EXISTS);
  });
});
