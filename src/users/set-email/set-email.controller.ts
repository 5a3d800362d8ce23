import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiConflictResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../http-edge/validation.pipes';
import { Details } from '../read-models/details';
import { RpcStatus } from '../../http-edge/rpc-status.schema';
import { SetEmailResponse } from './set-email.schema';
import { SetEmailCommand } from './set-email.command';
import { SetEmailDto } from './set-email.dto';

@ApiTags('UserService')
@Controller('v2/users')
export class SetEmailController {
  constructor(private readonly commands: CommandBus) {}

  /** Changes the user's email; an unverified address makes a later AddOTPEmail fail. */
  @Post(':userId/email')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'SetEmail',
    summary: 'Change the user email',
    description:
      'Change the email address of a user. An unverified address makes a later AddOTPEmail answer 400 ' +
      'COMMAND-KLJ2d. Setting the address and verification state the user already has appends nothing. Needs ' +
      'user.write in the organization of the user; the user may set its own address, unverified only.',
  })
  @ApiParam({ name: 'userId', description: 'The id of the user, 1 to 200 characters', example: '69629026806489455' })
  @ApiOkResponse({ description: 'OK', type: SetEmailResponse })
  @ApiConflictResponse({ description: 'The user was changed concurrently too often (code 10); retry.', type: RpcStatus })
  async setEmail(
    @Param('userId', new UserIdPipe('SetEmailRequest')) userId: string,
    @Body() body: SetEmailDto,
    @Ctx() context: RequestContext,
  ): Promise<{ details: Details }> {
    const command = new SetEmailCommand(userId, body.email, body.isVerified === true, context);
    return { details: await this.commands.execute(command) };
  }
}
