import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { AddHumanUserResult } from './add-human-user.command';
import { AddHumanUserCommand } from './add-human-user.command';
import { AddHumanUserDto } from './add-human-user.dto';

@Controller('v2/users')
export class AddHumanUserController {
  constructor(private readonly commands: CommandBus) {}

  /** Creates a human user in the given organization, or the caller's. */
  @Post('human')
  @HttpCode(200)
  addHumanUser(@Body() body: AddHumanUserDto, @Ctx() context: RequestContext): Promise<AddHumanUserResult> {
    return this.commands.execute(new AddHumanUserCommand(body, context));
  }
}
