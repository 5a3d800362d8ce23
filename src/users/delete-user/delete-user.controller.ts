import { Controller, Delete, HttpCode, Param } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiConflictResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../http-edge/validation.pipes';
import { Details } from '../read-models/details';
import { DeleteUserResponse } from './delete-user.schema';
import { RpcStatus } from '../../http-edge/rpc-status.schema';
import { DeleteUserCommand } from './delete-user.command';

@ApiTags('UserService')
@Controller('v2/users')
export class DeleteUserController {
  constructor(private readonly commands: CommandBus) {}

  /** Deletes the user; its id is never given out again. */
  @Delete(':userId')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'DeleteUser',
    summary: 'Delete user',
    description:
      "The state of the user will be changed to 'deleted'. Endpoints requesting this user will return an error " +
      "'User could not be found' (COMMAND-4g3xq), and its id is never given out again. Needs no permission for the " +
      'own user, else user.delete in its organization.',
  })
  @ApiParam({ name: 'userId', description: 'The id of the user, 1 to 200 characters', example: '69629026806489455' })
  @ApiOkResponse({ description: 'OK', type: DeleteUserResponse })
  @ApiConflictResponse({ description: 'The user was changed concurrently too often (code 10); retry.', type: RpcStatus })
  async deleteUser(
    @Param('userId', new UserIdPipe('DeleteUserRequest')) userId: string,
    @Ctx() context: RequestContext,
  ): Promise<{ details: Details }> {
    return { details: await this.commands.execute(new DeleteUserCommand(userId, context)) };
  }
}
