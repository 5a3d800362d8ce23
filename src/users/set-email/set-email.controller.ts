import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../shared/validation';
import { Details } from '../read-models/details';
import { SetEmailCommand } from './set-email.command';
import { SetEmailDto } from './set-email.dto';

@Controller('v2/users')
export class SetEmailController {
  constructor(private readonly commands: CommandBus) {}

  /** Changes the user's email; an unverified address makes a later AddOTPEmail fail. */
  @Post(':userId/email')
  @HttpCode(200)
  async setEmail(
    @Param('userId', new UserIdPipe('SetEmailRequest')) userId: string,
    @Body() body: SetEmailDto,
    @Ctx() context: RequestContext,
  ): Promise<{ details: Details }> {
    const command = new SetEmailCommand(userId, body.email, body.isVerified === true, context);
    return { details: await this.commands.execute(command) };
  }
}
