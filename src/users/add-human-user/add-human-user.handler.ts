import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { authorizeInOrg } from '../../auth/permissions';
import { Errors } from '../../errors/errors';
import { ServiceError } from '../../errors/service-error';
import { ID_GENERATOR, IdGenerator } from '../../shared/id-generator';
import { StreamCommandHandler } from '../../commands/stream-command.handler';
import { decideOnUser } from '../user-commands';
import { userStreamId } from '../user.events';
import { userDecider } from '../user.state';
import { AddHumanUserCommand, AddHumanUserResult } from './add-human-user.command';
import { AddHumanUser, decideAddHumanUser } from './add-human-user.decide';
import { UsernameReservations } from './username-reservations';

@CommandHandler(AddHumanUserCommand)
export class AddHumanUserHandler implements ICommandHandler<AddHumanUserCommand, AddHumanUserResult> {
  constructor(
    private readonly commands: StreamCommandHandler,
    private readonly usernames: UsernameReservations,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  async execute({ request, context }: AddHumanUserCommand): Promise<AddHumanUserResult> {
    const orgId = request.organization?.orgId ?? context.caller.orgId;
    if (!orgId) {
      throw Errors.invalidArgument(
        'invalid AddHumanUserRequest.Organization: no organization given and the token names none',
      );
    }
    authorizeInOrg(context.caller, 'user.write', orgId);
    const userId = request.userId ?? this.ids.userId();
    const userName = request.username ?? request.email.email;
    const command: AddHumanUser = {
      userId,
      orgId,
      userName,
      givenName: request.profile.givenName,
      familyName: request.profile.familyName,
      email: request.email.email,
      isVerified: request.email.isVerified === true,
    };
    // A taken id is refused before the name is reserved, so that the refusal writes nothing; the
    // rule runs again on the append, which settles a race for the same id.
    decideAddHumanUser(command, (await this.commands.load(userStreamId(userId), userDecider)).state);
    const reserved = await this.usernames.reserve(orgId, userName, userId, context);
    try {
      const details = await decideOnUser(this.commands, userId, context, (state) => decideAddHumanUser(command, state));
      return { userId, details };
    } catch (error) {
      if (reserved && error instanceof ServiceError && error.id === Errors.userAlreadyExists().id) {
        await this.usernames.release(orgId, userName, userId, context);
      }
      throw error;
    }
  }
}
