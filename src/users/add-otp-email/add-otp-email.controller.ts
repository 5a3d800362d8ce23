import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiConflictResponse, ApiOkResponse, ApiOperation, ApiParam, ApiSchema, ApiTags } from '@nestjs/swagger';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { UserIdPipe } from '../../http-edge/validation.pipes';
import { Details } from '../read-models/details';
import { AddOTPEmailResponse } from './add-otp-email.schema';
import { RpcStatus } from '../../http-edge/rpc-status.schema';
import { AddOTPEmailCommand } from './add-otp-email.command';

/** AddOTPEmailRequest has no fields besides the path's user id. */
@ApiSchema({ name: 'AddOTPEmailBody', description: 'No fields: send {}' })
export class AddOTPEmailBody {}

@ApiTags('UserService')
@Controller('v2/users')
export class AddOTPEmailController {
  constructor(private readonly commands: CommandBus) {}

  /** Adds OTP Email as a second factor; the user's email must be verified. */
  @Post(':userId/otp_email')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'AddOTPEmail',
    summary: 'Add OTP Email for a user',
    description:
      'Add a new One-Time-Password (OTP) Email factor to the authenticated user. OTP Email will enable the user to ' +
      "verify a OTP with the latest verified email. The email has to be verified to add the second factor: else 400 " +
      'COMMAND-KLJ2d. Needs no permission for the own user, else user.credential.write in its organization.',
  })
  @ApiParam({ name: 'userId', description: 'The id of the user, 1 to 200 characters', example: '69629026806489455' })
  @ApiOkResponse({ description: 'OK', type: AddOTPEmailResponse })
  @ApiConflictResponse({
    description: 'OTP Email is already set up (code 6, COMMAND-MKL2s), or the user was changed concurrently too often (code 10).',
    type: RpcStatus,
  })
  async addOTPEmail(
    @Param('userId', new UserIdPipe('AddOTPEmailRequest')) userId: string,
    @Body() _body: AddOTPEmailBody,
    @Ctx() context: RequestContext,
  ): Promise<{ details: Details }> {
    return { details: await this.commands.execute(new AddOTPEmailCommand(userId, context)) };
  }
}
