import type { RecordedEvent } from '../event-store/event-store.port';
import {
  ACTIONS_STREAM,
  ActionEventType,
  EventCondition,
  ExecutionSetData,
  TargetAddedData,
  TargetChangedData,
  conditionId,
  conditionMatches,
} from './action.events';

export interface TargetState extends Omit<TargetAddedData, 'targetId'> {
  id: string;
  createdAt: Date;
  changedAt: Date;
}

export interface ExecutionState {
  /** conditionId of its condition. */
  id: string;
  condition: EventCondition;
  targets: readonly string[];
  createdAt: Date;
  changedAt: Date;
}

/** Every target and execution, as the stream's events leave them; never changed in place. */
export interface ActionsState {
  targets: ReadonlyMap<string, TargetState>;
  executions: ReadonlyMap<string, ExecutionState>;
}

export const initialActionsState: ActionsState = { targets: new Map(), executions: new Map() };

function withTarget(state: ActionsState, target: TargetState | string): ActionsState {
  const targets = new Map(state.targets);
  if (typeof target === 'string') targets.delete(target);
  else targets.set(target.id, target);
  return { ...state, targets };
}

/** Applies one event of the actions stream; events of other streams leave the state as it is. */
export function evolveActions(state: ActionsState, event: Pick<RecordedEvent, 'type' | 'data' | 'createdAt' | 'streamId'>): ActionsState {
  if (event.streamId !== ACTIONS_STREAM) return state;
  const at = event.createdAt;
  switch (event.type) {
    case ActionEventType.TargetAdded: {
      const { targetId, ...target } = event.data as unknown as TargetAddedData;
      return withTarget(state, { ...target, id: targetId, createdAt: at, changedAt: at });
    }
    case ActionEventType.TargetChanged: {
      const { targetId, ...changes } = event.data as unknown as TargetChangedData;
      const known = state.targets.get(targetId);
      return known ? withTarget(state, { ...known, ...changes, changedAt: at }) : state;
    }
    case ActionEventType.TargetRemoved: {
      const { targetId } = event.data as { targetId: string };
      const removed = withTarget(state, targetId);
      // A removed target is no longer called: executions forget it, and one left without targets is gone.
      const executions = new Map<string, ExecutionState>();
      for (const [id, execution] of state.executions) {
        const targets = execution.targets.filter((target) => target !== targetId);
        if (targets.length) executions.set(id, targets.length === execution.targets.length ? execution : { ...execution, targets, changedAt: at });
      }
      return { ...removed, executions };
    }
    case ActionEventType.ExecutionSet: {
      const { condition, targets } = event.data as unknown as ExecutionSetData;
      const id = conditionId(condition);
      const known = state.executions.get(id);
      const executions = new Map(state.executions);
      executions.set(id, { id, condition, targets: [...targets], createdAt: known?.createdAt ?? at, changedAt: at });
      return { ...state, executions };
    }
    case ActionEventType.ExecutionRemoved: {
      const executions = new Map(state.executions);
      executions.delete(conditionId((event.data as { condition: EventCondition }).condition));
      return { ...state, executions };
    }
    default:
      return state;
  }
}

/** The targets to call for an event of this type, each once, in the order they were first named. */
export function targetsFor(state: ActionsState, eventType: string): TargetState[] {
  const ids = new Set<string>();
  for (const execution of state.executions.values()) {
    if (conditionMatches(execution.condition, eventType)) for (const id of execution.targets) ids.add(id);
  }
  return [...ids].flatMap((id) => state.targets.get(id) ?? []);
}

/** The state as JSON, to keep it beside the deliveries' checkpoint. */
export function actionsStateToJson(state: ActionsState): string {
  return JSON.stringify({ targets: [...state.targets.values()], executions: [...state.executions.values()] });
}

export function actionsStateFromJson(json: string | null): ActionsState {
  if (!json) return initialActionsState;
  const parsed = JSON.parse(json) as { targets: TargetState[]; executions: ExecutionState[] };
  const dates = <T extends { createdAt: Date; changedAt: Date }>(item: T): T => ({
    ...item,
    createdAt: new Date(item.createdAt),
    changedAt: new Date(item.changedAt),
  });
  return {
    targets: new Map(parsed.targets.map((target) => [target.id, dates(target)])),
    executions: new Map(parsed.executions.map((execution) => [execution.id, dates(execution)])),
  };
}
