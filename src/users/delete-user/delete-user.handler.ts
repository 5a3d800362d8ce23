import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { authorizeOnUser } from '../../auth/permissions';
import { Details } from '../read-models/details';
import { UserCommandRunner, targetOf } from '../user-command.runner';
import { DeleteUserCommand } from './delete-user.command';
import { decideDeleteUser } from './delete-user.decide';

@CommandHandler(DeleteUserCommand)
export class DeleteUserHandler implements ICommandHandler<DeleteUserCommand, Details> {
  constructor(private readonly users: UserCommandRunner) {}

  execute({ userId, context }: DeleteUserCommand): Promise<Details> {
    return this.users.run(userId, context, (state) => {
      authorizeOnUser(context.caller, 'user.delete', targetOf(userId, state), true);
      return decideDeleteUser({ userId }, state);
    });
  }
}
