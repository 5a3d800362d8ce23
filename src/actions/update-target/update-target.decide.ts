import { Errors } from '../../errors/errors';
import { ActionEvent, ActionEventType, TargetChangedData } from '../action.events';
import { ActionsState } from '../actions.state';
import { checkNameFree, checkTargetFields } from '../target.rules';

/** Fields left out stay as they are; `signingKey` is a new key, made by the caller when one was asked for. */
export type UpdateTarget = TargetChangedData;

export function decideUpdateTarget(command: UpdateTarget, state: ActionsState): ActionEvent[] {
  const target = state.targets.get(command.targetId);
  if (!target) throw Errors.targetNotFound();
  checkTargetFields(command);
  if (command.name !== undefined) checkNameFree(state, command.name, target.id);
  const changes: TargetChangedData = { targetId: target.id };
  for (const key of ['name', 'targetType', 'interruptOnError', 'timeoutMs', 'endpoint', 'signingKey'] as const) {
    const value = command[key];
    if (value !== undefined && value !== target[key]) (changes as Record<string, unknown>)[key] = value;
  }
  // Nothing differs: nothing to append, as ZITADEL answers an unchanged target.
  if (Object.keys(changes).length === 1) return [];
  return [{ type: ActionEventType.TargetChanged, data: changes }];
}
