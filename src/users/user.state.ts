import type { Decider } from '../commands/stream-command.handler';
import { UserEvent, UserEventType, toUserEvent } from './user.events';

/** The write model every user command decides on: only what the rules need. */
export type UserState =
  | { status: 'absent' }
  | {
      status: 'active' | 'removed';
      orgId: string;
      userName: string;
      email: string;
      emailVerified: boolean;
      otpEmail: boolean;
    };

export const initialUserState: UserState = { status: 'absent' };

export function evolveUser(state: UserState, event: UserEvent): UserState {
  switch (event.type) {
    case UserEventType.HumanAdded:
      return { status: 'active', orgId: event.resourceOwner, userName: event.data.userName, email: event.data.email, emailVerified: false, otpEmail: false };
    case UserEventType.EmailChanged:
      return state.status === 'absent' ? state : { ...state, email: event.data.email, emailVerified: false };
    case UserEventType.EmailVerified:
      return state.status === 'absent' ? state : { ...state, emailVerified: true };
    case UserEventType.OTPEmailAdded:
      return state.status === 'absent' ? state : { ...state, otpEmail: true };
    case UserEventType.OTPEmailRemoved:
      return state.status === 'absent' ? state : { ...state, otpEmail: false };
    case UserEventType.Removed:
      return state.status === 'absent' ? state : { ...state, status: 'removed', otpEmail: false };
  }
}

/** The user's stream as commands fold it; events of other types leave the state as it is. */
export const userDecider: Decider<UserState> = {
  initialState: initialUserState,
  evolve(state, recorded) {
    const event = toUserEvent(recorded);
    return event ? evolveUser(state, event) : state;
  },
};
