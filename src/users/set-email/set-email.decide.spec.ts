import { describe, it } from 'node:test';
import { USER_NOT_FOUND, events, given, verifiedUser } from '../testing/decider-spec';
import { decideSetEmail } from './set-email.decide';

const changed = (email: string) => ({ type: 'user.human.email.changed', data: { email }, resourceOwner: 'org-1' }) as const;
const verified = (email: string) => ({ type: 'user.human.email.verified', data: { email }, resourceOwner: 'org-1' }) as const;
const setEmail = (email: string, isVerified: boolean) => ({ userId: 'user-1', email, isVerified });

describe('SetEmail rules', () => {
  it('changes the email of a user, unverified', () => {
    given(...verifiedUser())
      .when(decideSetEmail, setEmail('new@example.com', false))
      .then(changed('new@example.com'));
  });

  it('changes and verifies the email in two events when isVerified', () => {
    given(...verifiedUser())
      .when(decideSetEmail, setEmail('new@example.com', true))
      .then(changed('new@example.com'), verified('new@example.com'));
  });

  it('appends nothing when the address and verification state are already the user\'s (verified)', () => {
    given(...verifiedUser()).when(decideSetEmail, setEmail('minnie@example.com', true)).thenNothing();
  });

  it('appends nothing when the address and verification state are already the user\'s (unverified)', () => {
    given(events.humanAdded()).when(decideSetEmail, setEmail('minnie@example.com', false)).thenNothing();
  });

  it('appends nothing when an unverified changed address is set again unverified', () => {
    given(...verifiedUser(), events.emailChanged('new@example.com'))
      .when(decideSetEmail, setEmail('new@example.com', false))
      .thenNothing();
  });

  it('only verifies when the same, unverified address is set with isVerified', () => {
    given(events.humanAdded())
      .when(decideSetEmail, setEmail('minnie@example.com', true))
      .then(verified('minnie@example.com'));
  });

  it('takes back the verification when the same, verified address is set unverified', () => {
    given(...verifiedUser())
      .when(decideSetEmail, setEmail('minnie@example.com', false))
      .then(changed('minnie@example.com'));
  });

  it('treats an address that differs only in case as a change (the address is kept as given)', () => {
    given(...verifiedUser())
      .when(decideSetEmail, setEmail('Minnie@Example.com', true))
      .then(changed('Minnie@Example.com'), verified('Minnie@Example.com'));
  });

  it('sees a changed email as unverified: setting it verified appends the verification only', () => {
    given(...verifiedUser(), events.emailChanged('new@example.com'))
      .when(decideSetEmail, setEmail('new@example.com', true))
      .then(verified('new@example.com'));
  });

  it('keeps the user\'s organization as the owner', () => {
    given(events.humanAdded({}, 'org-9'))
      .when(decideSetEmail, setEmail('new@example.com', false))
      .then({ type: 'user.human.email.changed', data: { email: 'new@example.com' }, resourceOwner: 'org-9' });
  });

  it('fails with COMMAND-4g3xq when the user does not exist', () => {
    given().when(decideSetEmail, setEmail('new@example.com', true)).thenFails(USER_NOT_FOUND);
  });

  it('fails with COMMAND-4g3xq when the user was deleted, even for a no-op', () => {
    given(...verifiedUser(), events.removed())
      .when(decideSetEmail, setEmail('minnie@example.com', true))
      .thenFails(USER_NOT_FOUND);
  });
});
