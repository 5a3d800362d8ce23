import assert from 'node:assert/strict';
import { ServiceError, StatusCode } from '../../errors/service-error';
import { HumanAddedData, UserEvent, UserEventType } from '../user.events';
import { UserState, evolveUser, initialUserState } from '../user.state';

/**
 * Rules stated as given events / when a command / then events or an error. The state a decide
 * sees is always built by folding the given events through evolveUser, as the runner does, so a
 * spec also fails when evolve and decide disagree.
 */

export type Decide<C> = (command: C, state: UserState) => UserEvent[];

/** The error a rule throws, as the contract names it. */
export interface ExpectedError {
  id: string;
  code: StatusCode;
  text?: string;
}

export const stateOf = (events: readonly UserEvent[]): UserState => events.reduce(evolveUser, initialUserState);

export function given(...events: UserEvent[]) {
  return {
    when<C>(decide: Decide<C>, command: C) {
      const decided = () => decide(command, stateOf(events));
      return {
        then(...expected: UserEvent[]): void {
          assert.deepEqual(decided(), expected);
        },
        thenNothing(): void {
          assert.deepEqual(decided(), []);
        },
        thenFails(expected: ExpectedError): void {
          assertFails(decided, expected);
        },
      };
    },
  };
}

export function assertFails(run: () => unknown, expected: ExpectedError): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.id, expected.id);
    assert.equal(error.code, expected.code);
    if (expected.text !== undefined) {
      assert.equal(error.text, expected.text);
      assert.equal(error.message, `${expected.text} (${expected.id})`);
    }
    return true;
  });
}

/** The contract's errors, written out here rather than taken from the catalogue under test. */
export const USER_NOT_FOUND: ExpectedError = {
  id: 'COMMAND-4g3xq',
  code: StatusCode.NOT_FOUND,
  text: 'User could not be found',
};
export const OTP_EMAIL_NOT_FOUND: ExpectedError = {
  id: 'COMMAND-b312D',
  code: StatusCode.NOT_FOUND,
  text: "Multifactor OTP (OneTimePassword) doesn't exist",
};
export const OTP_EMAIL_ALREADY_SET_UP: ExpectedError = {
  id: 'COMMAND-MKL2s',
  code: StatusCode.ALREADY_EXISTS,
  text: 'Multifactor OTP (OneTimePassword) is already set up',
};
export const OTP_EMAIL_NOT_READY: ExpectedError = {
  id: 'COMMAND-KLJ2d',
  code: StatusCode.FAILED_PRECONDITION,
  text: "Multifactor OTP (OneTimePassword) isn't ready",
};
export const USER_ALREADY_EXISTS: ExpectedError = {
  id: 'COMMAND-k2unb',
  code: StatusCode.ALREADY_EXISTS,
  text: 'User already exists',
};

export const ORG = 'org-1';

/** Event builders for the given part; each owned by ORG unless told otherwise. */
export const events = {
  humanAdded: (data: Partial<HumanAddedData> = {}, resourceOwner = ORG): UserEvent => ({
    type: UserEventType.HumanAdded,
    data: { userName: 'minnie', firstName: 'Minnie', lastName: 'Mouse', email: 'minnie@example.com', ...data },
    resourceOwner,
  }),
  emailChanged: (email: string, resourceOwner = ORG): UserEvent => ({
    type: UserEventType.EmailChanged,
    data: { email },
    resourceOwner,
  }),
  emailVerified: (email: string, resourceOwner = ORG): UserEvent => ({
    type: UserEventType.EmailVerified,
    data: { email },
    resourceOwner,
  }),
  otpEmailAdded: (resourceOwner = ORG): UserEvent => ({ type: UserEventType.OTPEmailAdded, data: null, resourceOwner }),
  otpEmailRemoved: (resourceOwner = ORG): UserEvent => ({
    type: UserEventType.OTPEmailRemoved,
    data: null,
    resourceOwner,
  }),
  removed: (userName = 'minnie', resourceOwner = ORG): UserEvent => ({
    type: UserEventType.Removed,
    data: { userName },
    resourceOwner,
  }),
};

/** A user that exists with a verified email: what AddOTPEmail needs. */
export const verifiedUser = (): UserEvent[] => [
  events.humanAdded(),
  events.emailVerified('minnie@example.com'),
];
