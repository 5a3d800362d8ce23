import { Errors } from '../../errors/errors';
import { UserEvent, UserEventType } from '../user.events';
import { UserState } from '../user.state';

export interface AddOTPEmail {
  userId: string;
}

export function decideAddOTPEmail(_command: AddOTPEmail, state: UserState): UserEvent[] {
  if (state.status !== 'active') throw Errors.userNotFound();
  if (state.otpEmail) throw Errors.otpEmailAlreadySetUp();
  if (!state.emailVerified) throw Errors.otpEmailNotReady();
  return [{ type: UserEventType.OTPEmailAdded, data: null, resourceOwner: state.orgId }];
}
