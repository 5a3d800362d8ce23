/**
 * Targets and executions of Actions v2, events of one stream per instance of the service. Named as
 * ZITADEL names them. They are configuration, never delivered to targets themselves.
 */
export const ActionEventType = {
  TargetAdded: 'target.added',
  TargetChanged: 'target.changed',
  TargetRemoved: 'target.removed',
  ExecutionSet: 'execution.set',
  ExecutionRemoved: 'execution.removed',
} as const;

export const ACTION_EVENT_TYPES: readonly string[] = Object.values(ActionEventType);

/** The one stream of targets and executions: ListTargets reads it whole, and names are unique in it. */
export const ACTIONS_STREAM = 'actions-config';

/** The target types of the API; for events all are called the same way, asynchronously. */
export type TargetType = 'restWebhook' | 'restCall' | 'restAsync';

/** Which events an execution matches: one type, every type with a prefix, or all. */
export type EventCondition = { event: string } | { group: string } | { all: true };

export interface TargetAddedData {
  targetId: string;
  name: string;
  targetType: TargetType;
  interruptOnError: boolean;
  timeoutMs: number;
  endpoint: string;
  signingKey: string;
}

export type TargetChangedData = { targetId: string } & Partial<Omit<TargetAddedData, 'targetId'>>;

export interface ExecutionSetData {
  condition: EventCondition;
  targets: string[];
}

export type ActionEvent =
  | { type: typeof ActionEventType.TargetAdded; data: TargetAddedData }
  | { type: typeof ActionEventType.TargetChanged; data: TargetChangedData }
  | { type: typeof ActionEventType.TargetRemoved; data: { targetId: string } }
  | { type: typeof ActionEventType.ExecutionSet; data: ExecutionSetData }
  | { type: typeof ActionEventType.ExecutionRemoved; data: { condition: EventCondition } };

/** An execution's id, as ZITADEL builds it: `event/<type>`, `event/<group>.*`, or `event`. */
export function conditionId(condition: EventCondition): string {
  if ('event' in condition) return `event/${condition.event}`;
  if ('group' in condition) return `event/${condition.group}.*`;
  return 'event';
}

/** Whether an event of this type is one the condition asks for. */
export function conditionMatches(condition: EventCondition, eventType: string): boolean {
  if ('event' in condition) return condition.event === eventType;
  if ('group' in condition) return eventType === condition.group || eventType.startsWith(`${condition.group}.`);
  return true;
}
