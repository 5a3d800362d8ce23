import { Errors } from '../../errors/errors';
import { UserEvent, UserEventType } from '../user.events';
import { UserState } from '../user.state';

export interface DeleteUser {
  userId: string;
}

export function decideDeleteUser(_command: DeleteUser, state: UserState): UserEvent[] {
  if (state.status !== 'active') throw Errors.userNotFound();
  return [{ type: UserEventType.Removed, data: { userName: state.userName }, resourceOwner: state.orgId }];
}
