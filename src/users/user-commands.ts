import { CommandContext, StreamCommandHandler } from '../commands/stream-command.handler';
import { Errors } from '../errors/errors';
import { Details, detailsOf } from './read-models/details';
import { UserEvent, userStreamId } from './user.events';
import { UserState, userDecider } from './user.state';

/** The target of an authorisation check: a user that does not exist has no organization. */
export const targetOf = (userId: string, state: UserState) => ({
  userId,
  orgId: state.status === 'absent' ? undefined : state.orgId,
});

/**
 * Runs a rule on a user's stream. Answers the details of the last event the command appended, or,
 * when it had nothing to append, of the user's last event.
 */
export async function decideOnUser(
  commands: StreamCommandHandler,
  userId: string,
  context: CommandContext,
  decide: (state: UserState) => UserEvent[],
): Promise<Details> {
  const { last } = await commands.handle(userStreamId(userId), userDecider, decide, context);
  if (!last) throw Errors.userNotFound();
  return detailsOf(last);
}
