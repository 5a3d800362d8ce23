import { Controller, Get, Param } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../http-edge/validation.pipes';
import { GetUserByIDResponse as GetUserByIDSchema } from './get-user-by-id.schema';
import { GetUserByIDQuery, GetUserByIDResponse } from './get-user-by-id.query';

@ApiTags('UserService')
@Controller('v2/users')
export class GetUserByIDController {
  constructor(private readonly queries: QueryBus) {}

  /** Returns the user as its read model holds it, with the details of its last event. */
  @Get(':userId')
  @ApiOperation({
    operationId: 'GetUserByID',
    summary: 'User by ID',
    description:
      "Returns the user with its profile and email. Its details are those of the last event in the user's stream, " +
      'whatever its type. Needs no permission for the own user, else user.read in its organization.',
  })
  @ApiParam({ name: 'userId', description: 'The id of the user, 1 to 200 characters', example: '69629026806489455' })
  @ApiOkResponse({ description: 'OK', type: GetUserByIDSchema })
  getUserByID(
    @Param('userId', new UserIdPipe('GetUserByIDRequest')) userId: string,
    @Ctx() context: RequestContext,
  ): Promise<GetUserByIDResponse> {
    return this.queries.execute(new GetUserByIDQuery(userId, context));
  }
}
