import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiConflictResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { AddHumanUserResult } from './add-human-user.command';
import { AddHumanUserCommand } from './add-human-user.command';
import { AddHumanUserResponse } from './add-human-user.schema';
import { RpcStatus } from '../../http-edge/rpc-status.schema';
import { AddHumanUserDto } from './add-human-user.dto';

@ApiTags('UserService')
@Controller('v2/users')
export class AddHumanUserController {
  constructor(private readonly commands: CommandBus) {}

  /** Creates a human user in the given organization, or the caller's. */
  @Post('human')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'AddHumanUser',
    summary: 'Create a new human user',
    description:
      "Creates a human user in the given organization, or the caller's (claim urn:zitadel:iam:user:resourceowner:id). " +
      'The username defaults to the email; usernames are unique within an organization, ignoring case. Needs ' +
      'user.write in the organization.',
  })
  @ApiOkResponse({ description: 'OK', type: AddHumanUserResponse })
  @ApiConflictResponse({
    description:
      'A user with that id exists or existed, or the username is taken (COMMAND-k2unb); or a concurrent change (code 10).',
    type: RpcStatus,
  })
  addHumanUser(@Body() body: AddHumanUserDto, @Ctx() context: RequestContext): Promise<AddHumanUserResult> {
    return this.commands.execute(new AddHumanUserCommand(body, context));
  }
}
