import { Controller, Delete, HttpCode, Param } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiConflictResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../http-edge/validation.pipes';
import { Details } from '../read-models/details';
import { RemoveOTPEmailResponse } from './remove-otp-email.schema';
import { RpcStatus } from '../../http-edge/rpc-status.schema';
import { RemoveOTPEmailCommand } from './remove-otp-email.command';

@ApiTags('UserService')
@Controller('v2/users')
export class RemoveOTPEmailController {
  constructor(private readonly commands: CommandBus) {}

  /** Removes the user's OTP Email factor. */
  @Delete(':userId/otp_email')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'RemoveOTPEmail',
    summary: 'Remove One-Time-Password (OTP) Email from a user',
    description:
      'Remove the configured One-Time-Password (OTP) Email factor of the authenticated user. As only one OTP Email ' +
      'per user is allowed, the user will not have OTP Email as a second-factor afterward.',
  })
  @ApiParam({ name: 'userId', description: 'The id of the user, 1 to 200 characters', example: '69629026806489455' })
  @ApiOkResponse({ description: 'OK', type: RemoveOTPEmailResponse })
  @ApiConflictResponse({ description: 'The user was changed concurrently too often (code 10); retry.', type: RpcStatus })
  async removeOTPEmail(
    @Param('userId', new UserIdPipe('RemoveOTPEmailRequest')) userId: string,
    @Ctx() context: RequestContext,
  ): Promise<{ details: Details }> {
    return { details: await this.commands.execute(new RemoveOTPEmailCommand(userId, context)) };
  }
}
