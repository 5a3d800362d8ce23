import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { authorizeOnUser } from '../../auth/permissions';
import { Details } from '../read-models/details';
import { UserCommandRunner, targetOf } from '../user-command.runner';
import { RemoveOTPEmailCommand } from './remove-otp-email.command';
import { decideRemoveOTPEmail } from './remove-otp-email.decide';

@CommandHandler(RemoveOTPEmailCommand)
export class RemoveOTPEmailHandler implements ICommandHandler<RemoveOTPEmailCommand, Details> {
  constructor(private readonly users: UserCommandRunner) {}

  execute({ userId, context }: RemoveOTPEmailCommand): Promise<Details> {
    return this.users.run(userId, context, (state) => {
      authorizeOnUser(context.caller, 'user.write', targetOf(userId, state), true);
      return decideRemoveOTPEmail({ userId }, state);
    });
  }
}
