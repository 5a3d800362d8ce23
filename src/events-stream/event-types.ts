import { ACTION_EVENT_TYPES } from '../actions/action.events';
import { UsernameEventType } from '../users/add-human-user/username-reservation.decide';
import { USER_EVENT_TYPES } from '../users/user.events';

/** Every type of event the service writes: a stream's filter may name only these. */
export const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set([...USER_EVENT_TYPES, ...Object.values(UsernameEventType), ...ACTION_EVENT_TYPES]);
