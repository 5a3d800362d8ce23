import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { authorizeOnUser } from '../../auth/permissions';
import { Details } from '../read-models/details';
import { UserCommandRunner, targetOf } from '../user-command.runner';
import { SetEmailCommand } from './set-email.command';
import { decideSetEmail } from './set-email.decide';

@CommandHandler(SetEmailCommand)
export class SetEmailHandler implements ICommandHandler<SetEmailCommand, Details> {
  constructor(private readonly users: UserCommandRunner) {}

  execute({ userId, email, isVerified, context }: SetEmailCommand): Promise<Details> {
    return this.users.run(userId, context, (state) => {
      // A user may change its own address, but only an administrator may vouch that it is verified.
      authorizeOnUser(context.caller, 'user.write', targetOf(userId, state), !isVerified);
      return decideSetEmail({ userId, email, isVerified }, state);
    });
  }
}
