import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { authorizeOnUser } from '../../auth/permissions';
import { Errors } from '../../errors/errors';
import { READ_MODEL_STORE, ReadModelStore } from '../../event-store/read-model.port';
import { authFactorsProjection } from '../read-models/auth-factors.projection';
import { usersProjection } from '../read-models/users.projection';
import {
  ListAuthenticationFactorsQuery,
  ListAuthenticationFactorsResponse,
} from './list-authentication-factors.query';

@QueryHandler(ListAuthenticationFactorsQuery)
export class ListAuthenticationFactorsHandler
  implements IQueryHandler<ListAuthenticationFactorsQuery, ListAuthenticationFactorsResponse>
{
  constructor(@Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore) {}

  async execute(query: ListAuthenticationFactorsQuery): Promise<ListAuthenticationFactorsResponse> {
    const { userId, context } = query;
    const user = await this.readModels.get(usersProjection, userId);
    authorizeOnUser(context.caller, 'user.read', { userId, orgId: user?.orgId }, true);
    if (!user || user.removed) throw Errors.userNotFound();
    const view = await this.readModels.get(authFactorsProjection, userId);
    const result = (view?.factors ?? [])
      .filter((factor) => query.authFactors.length === 0 || query.authFactors.includes(factor.type))
      .filter((factor) => query.states.includes(factor.state))
      .map((factor) => ({ state: factor.state, otpEmail: {} }));
    return result.length ? { result } : {};
  }
}
