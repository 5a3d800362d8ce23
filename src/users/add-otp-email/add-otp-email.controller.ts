import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../shared/validation';
import { Details } from '../read-models/details';
import { AddOTPEmailCommand } from './add-otp-email.command';

/** AddOTPEmailRequest has no fields besides the path's user id. */
export class AddOTPEmailBody {}

@Controller('v2/users')
export class AddOTPEmailController {
  constructor(private readonly commands: CommandBus) {}

  /** Adds OTP Email as a second factor; the user's email must be verified. */
  @Post(':userId/otp_email')
  @HttpCode(200)
  async addOTPEmail(
    @Param('userId', new UserIdPipe('AddOTPEmailRequest')) userId: string,
    @Body() _body: AddOTPEmailBody,
    @Ctx() context: RequestContext,
  ): Promise<{ details: Details }> {
    return { details: await this.commands.execute(new AddOTPEmailCommand(userId, context)) };
  }
}
