/** The user's events, named exactly as ZITADEL names them. Payload fields follow ZITADEL's. */
export const UserEventType = {
  HumanAdded: 'user.human.added',
  EmailChanged: 'user.human.email.changed',
  EmailVerified: 'user.human.email.verified',
  OTPEmailAdded: 'user.human.mfa.otp.email.added',
  OTPEmailRemoved: 'user.human.mfa.otp.email.removed',
  Removed: 'user.removed',
} as const;

export type UserEventTypeName = (typeof UserEventType)[keyof typeof UserEventType];

export interface HumanAddedData {
  userName: string;
  firstName: string;
  lastName: string;
  email: string;
}

/** A user event as the rules see it: its type, payload and owning organization. */
export type UserEvent = UserEventBody & { resourceOwner: string };

type UserEventBody =
  | { type: typeof UserEventType.HumanAdded; data: HumanAddedData }
  | { type: typeof UserEventType.EmailChanged; data: { email: string } }
  | { type: typeof UserEventType.EmailVerified; data: { email: string } }
  | { type: typeof UserEventType.OTPEmailAdded; data: null }
  | { type: typeof UserEventType.OTPEmailRemoved; data: null }
  | { type: typeof UserEventType.Removed; data: { userName: string } };

export const USER_EVENT_TYPES: readonly string[] = Object.values(UserEventType);


export const userStreamId = (userId: string): string => `user-${userId}`;

/** The rules' view of a stored event: the owning organization comes from its metadata. */
export function toUserEvent(event: { type: string; data: unknown; metadata: { resourceOwner: string } }): UserEvent | null {
  if (!USER_EVENT_TYPES.includes(event.type)) return null;
  return { type: event.type, data: event.data, resourceOwner: event.metadata.resourceOwner } as UserEvent;
}
