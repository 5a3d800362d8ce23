import { describe, it } from 'node:test';
import {
  OTP_EMAIL_ALREADY_SET_UP,
  OTP_EMAIL_NOT_READY,
  USER_NOT_FOUND,
  events,
  given,
  verifiedUser,
} from '../testing/decider-spec';
import { decideAddOTPEmail } from './add-otp-email.decide';

const command = { userId: 'user-1' };
const added = { type: 'user.human.mfa.otp.email.added', data: null, resourceOwner: 'org-1' } as const;

describe('AddOTPEmail rules', () => {
  it('adds the factor for a user with a verified email', () => {
    given(...verifiedUser()).when(decideAddOTPEmail, command).then(added);
  });

  it('adds the factor again after it was removed', () => {
    given(...verifiedUser(), events.otpEmailAdded(), events.otpEmailRemoved())
      .when(decideAddOTPEmail, command)
      .then(added);
  });

  it('adds the factor once a changed email is verified again', () => {
    given(...verifiedUser(), events.emailChanged('new@example.com'), events.emailVerified('new@example.com'))
      .when(decideAddOTPEmail, command)
      .then(added);
  });

  it('fails with COMMAND-4g3xq when the user does not exist', () => {
    given().when(decideAddOTPEmail, command).thenFails(USER_NOT_FOUND);
  });

  it('fails with COMMAND-4g3xq when the user was deleted', () => {
    given(...verifiedUser(), events.removed()).when(decideAddOTPEmail, command).thenFails(USER_NOT_FOUND);
  });

  it('fails with COMMAND-MKL2s when the factor is already set up', () => {
    given(...verifiedUser(), events.otpEmailAdded()).when(decideAddOTPEmail, command).thenFails(OTP_EMAIL_ALREADY_SET_UP);
  });

  it('answers COMMAND-MKL2s before COMMAND-KLJ2d: "already set up" is checked before the email', () => {
    given(...verifiedUser(), events.otpEmailAdded(), events.emailChanged('new@example.com'))
      .when(decideAddOTPEmail, command)
      .thenFails(OTP_EMAIL_ALREADY_SET_UP);
  });

  it('fails with COMMAND-KLJ2d when the email was never verified', () => {
    given(events.humanAdded()).when(decideAddOTPEmail, command).thenFails(OTP_EMAIL_NOT_READY);
  });

  it('fails with COMMAND-KLJ2d when the email was changed and not verified again', () => {
    given(...verifiedUser(), events.emailChanged('new@example.com'))
      .when(decideAddOTPEmail, command)
      .thenFails(OTP_EMAIL_NOT_READY);
  });
});
