import { Errors } from '../../errors/errors';
import { UserEvent, UserEventType } from '../user.events';
import { UserState } from '../user.state';

export interface SetEmail {
  userId: string;
  email: string;
  isVerified: boolean;
}

/** Setting the address and verification state the user already has changes nothing. */
export function decideSetEmail(command: SetEmail, state: UserState): UserEvent[] {
  if (state.status !== 'active') throw Errors.userNotFound();
  const resourceOwner = state.orgId;
  const verified: UserEvent = { type: UserEventType.EmailVerified, data: { email: command.email }, resourceOwner };
  if (command.email === state.email && command.isVerified === state.emailVerified) return [];
  if (command.email === state.email && command.isVerified) return [verified];
  const changed: UserEvent = { type: UserEventType.EmailChanged, data: { email: command.email }, resourceOwner };
  return command.isVerified ? [changed, verified] : [changed];
}
