import { DocumentProjection } from '../../event-store/read-model.port';
import { UserEventType } from '../user.events';
import { userIdOfStream } from './users.projection';

export type AuthFactorType = 'OTP_EMAIL';
export type AuthFactorState = 'AUTH_FACTOR_STATE_READY';

export interface AuthFactorsView {
  userId: string;
  factors: Array<{ type: AuthFactorType; state: AuthFactorState }>;
}

/** Second factors per user; a user without any has no row. */
export const authFactorsProjection: DocumentProjection<AuthFactorsView> = {
  name: 'auth_factors',
  version: 1,
  eventTypes: [UserEventType.OTPEmailAdded, UserEventType.OTPEmailRemoved, UserEventType.Removed],
  documentId: (event) => userIdOfStream(event.streamId),
  evolve(view, event) {
    const userId = userIdOfStream(event.streamId)!;
    const others = (view?.factors ?? []).filter((factor) => factor.type !== 'OTP_EMAIL');
    const factors =
      event.type === UserEventType.OTPEmailAdded
        ? [...others, { type: 'OTP_EMAIL' as const, state: 'AUTH_FACTOR_STATE_READY' as const }]
        : event.type === UserEventType.OTPEmailRemoved
          ? others
          : [];
    return factors.length ? { userId, factors } : null;
  },
};
