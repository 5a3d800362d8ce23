import { Controller, Get, Param } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../shared/validation';
import { GetUserByIDQuery, GetUserByIDResponse } from './get-user-by-id.query';

@Controller('v2/users')
export class GetUserByIDController {
  constructor(private readonly queries: QueryBus) {}

  /** Returns the user as its read model holds it, with the details of its last event. */
  @Get(':userId')
  getUserByID(
    @Param('userId', new UserIdPipe('GetUserByIDRequest')) userId: string,
    @Ctx() context: RequestContext,
  ): Promise<GetUserByIDResponse> {
    return this.queries.execute(new GetUserByIDQuery(userId, context));
  }
}
