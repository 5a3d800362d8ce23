import { describe, it } from 'node:test';
import {
  OTP_EMAIL_NOT_FOUND,
  USER_NOT_FOUND,
  events,
  given,
  verifiedUser,
} from '../testing/decider-spec';
import { decideRemoveOTPEmail } from './remove-otp-email.decide';

const command = { userId: 'user-1' };

describe('RemoveOTPEmail rules', () => {
  it('removes a factor that is set up, owned by the user\'s organization', () => {
    given(...verifiedUser(), events.otpEmailAdded())
      .when(decideRemoveOTPEmail, command)
      .then({ type: 'user.human.mfa.otp.email.removed', data: null, resourceOwner: 'org-1' });
  });

  it('keeps the owner of a user in another organization', () => {
    given(events.humanAdded({}, 'org-2'), events.emailVerified('minnie@example.com', 'org-2'), events.otpEmailAdded('org-2'))
      .when(decideRemoveOTPEmail, command)
      .then({ type: 'user.human.mfa.otp.email.removed', data: null, resourceOwner: 'org-2' });
  });

  it('fails with COMMAND-4g3xq when the user does not exist', () => {
    given().when(decideRemoveOTPEmail, command).thenFails(USER_NOT_FOUND);
  });

  it('fails with COMMAND-4g3xq when the user was deleted, even with a factor set up before', () => {
    given(...verifiedUser(), events.otpEmailAdded(), events.removed())
      .when(decideRemoveOTPEmail, command)
      .thenFails(USER_NOT_FOUND);
  });

  it('fails with COMMAND-b312D when the factor was never set up', () => {
    given(...verifiedUser()).when(decideRemoveOTPEmail, command).thenFails(OTP_EMAIL_NOT_FOUND);
  });

  it('fails with COMMAND-b312D when the factor was already removed', () => {
    given(...verifiedUser(), events.otpEmailAdded(), events.otpEmailRemoved())
      .when(decideRemoveOTPEmail, command)
      .thenFails(OTP_EMAIL_NOT_FOUND);
  });

  it('does not care whether the email is still verified: a set-up factor can always be removed', () => {
    given(...verifiedUser(), events.otpEmailAdded(), events.emailChanged('new@example.com'))
      .when(decideRemoveOTPEmail, command)
      .then({ type: 'user.human.mfa.otp.email.removed', data: null, resourceOwner: 'org-1' });
  });

  it('removes a factor that was added again after a removal', () => {
    given(...verifiedUser(), events.otpEmailAdded(), events.otpEmailRemoved(), events.otpEmailAdded())
      .when(decideRemoveOTPEmail, command)
      .then({ type: 'user.human.mfa.otp.email.removed', data: null, resourceOwner: 'org-1' });
  });
});
