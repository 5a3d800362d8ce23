import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { authorizeOnUser } from '../../auth/permissions';
import { Details } from '../read-models/details';
import { StreamCommandHandler } from '../../commands/stream-command.handler';
import { decideOnUser, targetOf } from '../user-commands';
import { RemoveOTPEmailCommand } from './remove-otp-email.command';
import { decideRemoveOTPEmail } from './remove-otp-email.decide';

@CommandHandler(RemoveOTPEmailCommand)
export class RemoveOTPEmailHandler implements ICommandHandler<RemoveOTPEmailCommand, Details> {
  constructor(private readonly commands: StreamCommandHandler) {}

  execute({ userId, context }: RemoveOTPEmailCommand): Promise<Details> {
    return decideOnUser(this.commands, userId, context, (state) => {
      authorizeOnUser(context.caller, 'user.write', targetOf(userId, state), true);
      return decideRemoveOTPEmail({ userId }, state);
    });
  }
}
