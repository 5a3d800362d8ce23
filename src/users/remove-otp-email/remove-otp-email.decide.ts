import { Errors } from '../../errors/errors';
import { UserEvent, UserEventType } from '../user.events';
import { UserState } from '../user.state';

export interface RemoveOTPEmail {
  userId: string;
}

export function decideRemoveOTPEmail(_command: RemoveOTPEmail, state: UserState): UserEvent[] {
  if (state.status !== 'active') throw Errors.userNotFound();
  if (!state.otpEmail) throw Errors.otpEmailNotFound();
  return [{ type: UserEventType.OTPEmailRemoved, data: null, resourceOwner: state.orgId }];
}
