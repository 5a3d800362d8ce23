import { DocumentProjection } from '../event-store/read-model.port';
import { UserEventType } from '../users/user.events';
import { userIdOfStream } from '../users/read-models/users.projection';

/** One security-relevant change, as admins read it. */
export interface SecurityNotification {
  /** Global position of the event: the notification's id, so a second delivery writes the same row. */
  position: number;
  type: string;
  userId: string;
  resourceOwner: string;
  /** Who did it: the event's creator. */
  creator: string;
  /** When, as ISO 8601. */
  creationDate: string;
  correlationId: string;
}

/** Ids sort as the positions do. */
export const notificationIdOf = (position: number): string => String(position).padStart(16, '0');

/** The table of notifications, written by SecurityNotificationsSubscriber one event at a time. */
export const securityNotificationsView: DocumentProjection<SecurityNotification> = {
  name: 'security_notifications',
  version: 1,
  eventTypes: [UserEventType.OTPEmailRemoved],
  documentId: (event) => notificationIdOf(event.position),
  evolve: (_document, event) => ({
    position: event.position,
    type: event.type,
    userId: userIdOfStream(event.streamId) ?? event.streamId,
    resourceOwner: event.metadata.resourceOwner,
    creator: event.metadata.creator,
    creationDate: event.createdAt.toISOString(),
    correlationId: event.metadata.correlationId,
  }),
};
