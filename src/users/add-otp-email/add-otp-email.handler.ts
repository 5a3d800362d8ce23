import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { authorizeOnUser } from '../../auth/permissions';
import { Details } from '../read-models/details';
import { StreamCommandHandler } from '../../commands/stream-command.handler';
import { decideOnUser, targetOf } from '../user-commands';
import { AddOTPEmailCommand } from './add-otp-email.command';
import { decideAddOTPEmail } from './add-otp-email.decide';

@CommandHandler(AddOTPEmailCommand)
export class AddOTPEmailHandler implements ICommandHandler<AddOTPEmailCommand, Details> {
  constructor(private readonly commands: StreamCommandHandler) {}

  execute({ userId, context }: AddOTPEmailCommand): Promise<Details> {
    return decideOnUser(this.commands, userId, context, (state) => {
      authorizeOnUser(context.caller, 'user.credential.write', targetOf(userId, state), true);
      return decideAddOTPEmail({ userId }, state);
    });
  }
}
