import { Errors } from '../../errors/errors';
import { UserEvent, UserEventType } from '../user.events';
import { UserState } from '../user.state';

export interface AddHumanUser {
  userId: string;
  orgId: string;
  userName: string;
  givenName: string;
  familyName: string;
  email: string;
  isVerified: boolean;
}

/** User ids are never reused: a deleted user's stream still exists, so its id is taken. */
export function decideAddHumanUser(command: AddHumanUser, state: UserState): UserEvent[] {
  if (state.status !== 'absent') throw Errors.userAlreadyExists();
  const { orgId: resourceOwner, email } = command;
  const added: UserEvent = {
    type: UserEventType.HumanAdded,
    data: { userName: command.userName, firstName: command.givenName, lastName: command.familyName, email },
    resourceOwner,
  };
  return command.isVerified
    ? [added, { type: UserEventType.EmailVerified, data: { email }, resourceOwner }]
    : [added];
}
