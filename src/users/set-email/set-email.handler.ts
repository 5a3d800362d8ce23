import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { authorizeOnUser } from '../../auth/permissions';
import { Details } from '../read-models/details';
import { StreamCommandHandler } from '../../commands/stream-command.handler';
import { decideOnUser, targetOf } from '../user-commands';
import { SetEmailCommand } from './set-email.command';
import { decideSetEmail } from './set-email.decide';

@CommandHandler(SetEmailCommand)
export class SetEmailHandler implements ICommandHandler<SetEmailCommand, Details> {
  constructor(private readonly commands: StreamCommandHandler) {}

  execute({ userId, email, isVerified, context }: SetEmailCommand): Promise<Details> {
    return decideOnUser(this.commands, userId, context, (state) => {
      // A user may change its own address, but only an administrator may vouch that it is verified.
      authorizeOnUser(context.caller, 'user.write', targetOf(userId, state), !isVerified);
      return decideSetEmail({ userId, email, isVerified }, state);
    });
  }
}
