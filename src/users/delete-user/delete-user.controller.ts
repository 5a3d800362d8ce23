import { Controller, Delete, HttpCode, Param } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../shared/validation';
import { Details } from '../read-models/details';
import { DeleteUserCommand } from './delete-user.command';

@Controller('v2/users')
export class DeleteUserController {
  constructor(private readonly commands: CommandBus) {}

  /** Deletes the user; its id is never given out again. */
  @Delete(':userId')
  @HttpCode(200)
  async deleteUser(
    @Param('userId', new UserIdPipe('DeleteUserRequest')) userId: string,
    @Ctx() context: RequestContext,
  ): Promise<{ details: Details }> {
    return { details: await this.commands.execute(new DeleteUserCommand(userId, context)) };
  }
}
