import { Errors } from '../../errors/errors';
import { ActionEvent, ActionEventType, EventCondition, conditionId } from '../action.events';
import { ActionsState } from '../actions.state';
import { CONTROL_CHARACTERS } from '../../shared/text';

/** A condition as the request gives it: anything but an event condition is refused. */
export type AnyCondition = { kind: 'event'; condition: EventCondition } | { kind: 'request' | 'response' | 'function' | 'none' };

export interface SetExecution {
  condition: AnyCondition;
  targets: readonly string[];
}

const MAX_CONDITION_LENGTH = 1000;

/** The request's own fields: an event condition with a sane name. Checked before the caller's permission too. */
export function checkSetExecution(command: SetExecution): EventCondition {
  if (command.condition.kind !== 'event') throw Errors.onlyEventConditions();
  const condition = command.condition.condition;
  const name = 'event' in condition ? condition.event : 'group' in condition ? condition.group : null;
  if (name !== null && (name.trim() === '' || name.length > MAX_CONDITION_LENGTH || CONTROL_CHARACTERS.test(name))) {
    throw Errors.invalidArgument(`invalid condition: the event or group must be 1 to ${MAX_CONDITION_LENGTH} characters, without control characters`);
  }
  return condition;
}

export function decideSetExecution(command: SetExecution, state: ActionsState): ActionEvent[] {
  const condition = checkSetExecution(command);
  const targets = [...new Set(command.targets)];
  for (const id of targets) if (!state.targets.has(id)) throw Errors.targetNotFound();
  const known = state.executions.get(conditionId(condition));
  if (targets.length === 0) {
    return known ? [{ type: ActionEventType.ExecutionRemoved, data: { condition } }] : [];
  }
  if (known && known.targets.length === targets.length && known.targets.every((id, i) => id === targets[i])) return [];
  return [{ type: ActionEventType.ExecutionSet, data: { condition, targets } }];
}
