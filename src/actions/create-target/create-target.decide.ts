import { ActionEvent, ActionEventType, TargetAddedData } from '../action.events';
import { ActionsState } from '../actions.state';
import { checkNameFree, checkTargetFields } from '../target.rules';

/** The id and signing key are made by the caller of the rule, so that it stays pure. */
export type CreateTarget = TargetAddedData;

export function decideCreateTarget(command: CreateTarget, state: ActionsState): ActionEvent[] {
  checkTargetFields(command);
  checkNameFree(state, command.name);
  return [{ type: ActionEventType.TargetAdded, data: { ...command } }];
}
