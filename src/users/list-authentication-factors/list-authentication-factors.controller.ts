import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../http-edge/validation.pipes';
import { ListAuthenticationFactorsResponse as ListAuthenticationFactorsSchema } from './list-authentication-factors.schema';
import { ListAuthenticationFactorsDto } from './list-authentication-factors.dto';
import {
  ListAuthenticationFactorsQuery,
  ListAuthenticationFactorsResponse,
} from './list-authentication-factors.query';

@ApiTags('UserService')
@Controller('v2/users')
export class ListAuthenticationFactorsController {
  constructor(private readonly queries: QueryBus) {}

  /** Lists the user's second factors; by default every type in state READY. */
  @Post(':userId/authentication_factors/_search')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'ListAuthenticationFactors',
    summary: 'List authentication factors',
    description:
      "Lists the user's second factors; without filters every type in state AUTH_FACTOR_STATE_READY. Answers {} " +
      'when there is none. Needs no permission for the own user, else user.read in its organization.',
  })
  @ApiParam({ name: 'userId', description: 'The id of the user, 1 to 200 characters', example: '69629026806489455' })
  @ApiBody({ type: ListAuthenticationFactorsDto, required: false })
  @ApiOkResponse({ description: 'OK', type: ListAuthenticationFactorsSchema })
  listAuthenticationFactors(
    @Param('userId', new UserIdPipe('ListAuthenticationFactorsRequest')) userId: string,
    @Body() body: ListAuthenticationFactorsDto,
    @Ctx() context: RequestContext,
  ): Promise<ListAuthenticationFactorsResponse> {
    const states = body.states?.length ? body.states : ['AUTH_FACTOR_STATE_READY'];
    return this.queries.execute(new ListAuthenticationFactorsQuery(userId, body.authFactors ?? [], states, context));
  }
}
