import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { events, stateOf } from './testing/decider-spec';
import { UserState, evolveUser, initialUserState } from './user.state';

const active = (overrides: Partial<Exclude<UserState, { status: 'absent' }>> = {}): UserState => ({
  status: 'active',
  orgId: 'org-1',
  userName: 'minnie',
  email: 'minnie@example.com',
  emailVerified: false,
  otpEmail: false,
  ...overrides,
});

describe('evolveUser: the write model of a user', () => {
  it('starts absent', () => {
    assert.deepEqual(stateOf([]), { status: 'absent' });
    assert.deepEqual(initialUserState, { status: 'absent' });
  });

  it('makes an active user, owned by the event\'s organization, with an unverified email and no factor', () => {
    assert.deepEqual(stateOf([events.humanAdded({ userName: 'mm', email: 'm@example.com' }, 'org-5')]), {
      status: 'active',
      orgId: 'org-5',
      userName: 'mm',
      email: 'm@example.com',
      emailVerified: false,
      otpEmail: false,
    });
  });

  it('verifies the email', () => {
    assert.deepEqual(stateOf([events.humanAdded(), events.emailVerified('minnie@example.com')]), active({ emailVerified: true }));
  });

  it('resets the verification when the email changes', () => {
    assert.deepEqual(
      stateOf([events.humanAdded(), events.emailVerified('minnie@example.com'), events.emailChanged('new@example.com')]),
      active({ email: 'new@example.com', emailVerified: false }),
    );
  });

  it('resets the verification even when the "changed" address is the same', () => {
    assert.deepEqual(
      stateOf([events.humanAdded(), events.emailVerified('minnie@example.com'), events.emailChanged('minnie@example.com')]),
      active({ emailVerified: false }),
    );
  });

  it('sets up and removes OTP Email, without touching the email', () => {
    const verified = [events.humanAdded(), events.emailVerified('minnie@example.com')];
    assert.deepEqual(stateOf([...verified, events.otpEmailAdded()]), active({ emailVerified: true, otpEmail: true }));
    assert.deepEqual(
      stateOf([...verified, events.otpEmailAdded(), events.otpEmailRemoved()]),
      active({ emailVerified: true, otpEmail: false }),
    );
  });

  it('keeps OTP Email set up when the email changes (AddOTPEmail then answers "already set up")', () => {
    assert.deepEqual(
      stateOf([events.humanAdded(), events.emailVerified('minnie@example.com'), events.otpEmailAdded(), events.emailChanged('n@example.com')]),
      active({ email: 'n@example.com', emailVerified: false, otpEmail: true }),
    );
  });

  it('marks a deleted user removed, keeping its organization and name, and drops its factor', () => {
    assert.deepEqual(
      stateOf([events.humanAdded(), events.emailVerified('minnie@example.com'), events.otpEmailAdded(), events.removed()]),
      { ...active({ emailVerified: true, otpEmail: false }), status: 'removed' },
    );
  });

  it('keeps a removed user removed whatever follows', () => {
    const removed = stateOf([events.humanAdded(), events.removed()]);
    for (const later of [events.emailChanged('x@example.com'), events.emailVerified('x@example.com'), events.otpEmailAdded(), events.removed()]) {
      assert.equal(evolveUser(removed, later).status, 'removed');
    }
  });

  it('ignores events other than "added" for a user that does not exist', () => {
    for (const event of [events.emailChanged('x@example.com'), events.emailVerified('x@example.com'), events.otpEmailAdded(), events.otpEmailRemoved(), events.removed()]) {
      assert.deepEqual(evolveUser(initialUserState, event), { status: 'absent' });
    }
  });

  it('does not change the state it is given', () => {
    const before = active({ emailVerified: true });
    const copy = structuredClone(before);
    evolveUser(before, events.otpEmailAdded());
    evolveUser(before, events.emailChanged('x@example.com'));
    assert.deepEqual(before, copy);
  });
});
