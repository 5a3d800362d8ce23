import { RecordedEvent } from '../../event-store/event-store.port';
import { DocumentProjection } from '../../event-store/read-model.port';
import { USER_EVENT_TYPES, UserEvent, UserEventType } from '../user.events';
import { Details, detailsOf } from './details';

export interface UserView {
  userId: string;
  orgId: string;
  /** A deleted user keeps a row, so that reads answer for it as commands do (404 to whoever may act on it). */
  removed?: true;
  userName: string;
  givenName: string;
  familyName: string;
  email: string;
  isVerified: boolean;
  /** Of the last event applied to this user, whatever its type. */
  details: Details;
}

/** Users as GetUserByID shows them. Version 2: a removed user keeps a row marked `removed`. */
export const usersProjection: DocumentProjection<UserView> = {
  name: 'users',
  version: 2,
  eventTypes: USER_EVENT_TYPES,
  documentId: (event) => userIdOfStream(event.streamId),
  evolve(view, recorded) {
    const event = recorded as RecordedEvent & UserEvent;
    const details = detailsOf(recorded);
    if (event.type === UserEventType.HumanAdded) {
      return {
        userId: userIdOfStream(recorded.streamId)!,
        orgId: recorded.metadata.resourceOwner,
        userName: event.data.userName,
        givenName: event.data.firstName,
        familyName: event.data.lastName,
        email: event.data.email,
        isVerified: false,
        details,
      };
    }
    if (view === null || view.removed) return view;
    switch (event.type) {
      case UserEventType.Removed:
        // Only what reads need to answer for it: the read model keeps no name or email of a deleted user.
        return { userId: view.userId, orgId: view.orgId, removed: true, userName: '', givenName: '', familyName: '', email: '', isVerified: false, details };
      case UserEventType.EmailChanged:
        return { ...view, email: event.data.email, isVerified: false, details };
      case UserEventType.EmailVerified:
        return { ...view, isVerified: true, details };
      default:
        return { ...view, details };
    }
  },
};

export function userIdOfStream(streamId: string): string | null {
  return streamId.startsWith('user-') ? streamId.slice('user-'.length) : null;
}
