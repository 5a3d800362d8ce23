import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../shared/validation';
import { ListAuthenticationFactorsDto } from './list-authentication-factors.dto';
import {
  ListAuthenticationFactorsQuery,
  ListAuthenticationFactorsResponse,
} from './list-authentication-factors.query';

@Controller('v2/users')
export class ListAuthenticationFactorsController {
  constructor(private readonly queries: QueryBus) {}

  /** Lists the user's second factors; by default every type in state READY. */
  @Post(':userId/authentication_factors/_search')
  @HttpCode(200)
  listAuthenticationFactors(
    @Param('userId', new UserIdPipe('ListAuthenticationFactorsRequest')) userId: string,
    @Body() body: ListAuthenticationFactorsDto,
    @Ctx() context: RequestContext,
  ): Promise<ListAuthenticationFactorsResponse> {
    const states = body.states?.length ? body.states : ['AUTH_FACTOR_STATE_READY'];
    return this.queries.execute(new ListAuthenticationFactorsQuery(userId, body.authFactors ?? [], states, context));
  }
}
