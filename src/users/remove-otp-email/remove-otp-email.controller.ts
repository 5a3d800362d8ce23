import { Controller, Delete, HttpCode, Param } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../shared/validation';
import { Details } from '../read-models/details';
import { RemoveOTPEmailCommand } from './remove-otp-email.command';

@Controller('v2/users')
export class RemoveOTPEmailController {
  constructor(private readonly commands: CommandBus) {}

  /** Removes the user's OTP Email factor. */
  @Delete(':userId/otp_email')
  @HttpCode(200)
  async removeOTPEmail(
    @Param('userId', new UserIdPipe('RemoveOTPEmailRequest')) userId: string,
    @Ctx() context: RequestContext,
  ): Promise<{ details: Details }> {
    return { details: await this.commands.execute(new RemoveOTPEmailCommand(userId, context)) };
  }
}
