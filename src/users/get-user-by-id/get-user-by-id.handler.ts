import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { authorizeOnUser } from '../../auth/permissions';
import { Errors } from '../../errors/errors';
import { READ_MODEL_STORE, ReadModelStore } from '../../event-store/read-model.port';
import { usersProjection } from '../read-models/users.projection';
import { GetUserByIDQuery, GetUserByIDResponse } from './get-user-by-id.query';

@QueryHandler(GetUserByIDQuery)
export class GetUserByIDHandler implements IQueryHandler<GetUserByIDQuery, GetUserByIDResponse> {
  constructor(@Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore) {}

  async execute({ userId, context }: GetUserByIDQuery): Promise<GetUserByIDResponse> {
    const user = await this.readModels.get(usersProjection, userId);
    authorizeOnUser(context.caller, 'user.read', { userId, orgId: user?.orgId }, true);
    if (!user || user.removed) throw Errors.userNotFound();
    return {
      details: user.details,
      user: {
        userId: user.userId,
        state: 'USER_STATE_ACTIVE',
        username: user.userName,
        preferredLoginName: user.userName,
        human: {
          profile: { givenName: user.givenName, familyName: user.familyName },
          // Protobuf JSON leaves out a false boolean.
          email: user.isVerified ? { email: user.email, isVerified: true } : { email: user.email },
        },
      },
    };
  }
}
