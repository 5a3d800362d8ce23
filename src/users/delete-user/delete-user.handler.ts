import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { authorizeOnUser } from '../../auth/permissions';
import { Details } from '../read-models/details';
import { StreamCommandHandler } from '../../commands/stream-command.handler';
import { decideOnUser, targetOf } from '../user-commands';
import { DeleteUserCommand } from './delete-user.command';
import { decideDeleteUser } from './delete-user.decide';

@CommandHandler(DeleteUserCommand)
export class DeleteUserHandler implements ICommandHandler<DeleteUserCommand, Details> {
  constructor(private readonly commands: StreamCommandHandler) {}

  execute({ userId, context }: DeleteUserCommand): Promise<Details> {
    return decideOnUser(this.commands, userId, context, (state) => {
      authorizeOnUser(context.caller, 'user.delete', targetOf(userId, state), true);
      return decideDeleteUser({ userId }, state);
    });
  }
}
