import { ActionEvent, ActionEventType } from '../action.events';
import { ActionsState } from '../actions.state';

export interface DeleteTarget {
  targetId: string;
}

/** Deleting is idempotent, as in ZITADEL: a target that is not there is left alone. */
export function decideDeleteTarget(command: DeleteTarget, state: ActionsState): ActionEvent[] {
  if (!state.targets.has(command.targetId)) return [];
  return [{ type: ActionEventType.TargetRemoved, data: { targetId: command.targetId } }];
}
