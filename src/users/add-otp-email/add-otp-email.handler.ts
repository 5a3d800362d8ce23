import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { authorizeOnUser } from '../../auth/permissions';
import { Details } from '../read-models/details';
import { UserCommandRunner, targetOf } from '../user-command.runner';
import { AddOTPEmailCommand } from './add-otp-email.command';
import { decideAddOTPEmail } from './add-otp-email.decide';

@CommandHandler(AddOTPEmailCommand)
export class AddOTPEmailHandler implements ICommandHandler<AddOTPEmailCommand, Details> {
  constructor(private readonly users: UserCommandRunner) {}

  execute({ userId, context }: AddOTPEmailCommand): Promise<Details> {
    return this.users.run(userId, context, (state) => {
      authorizeOnUser(context.caller, 'user.credential.write', targetOf(userId, state), true);
      return decideAddOTPEmail({ userId }, state);
    });
  }
}
