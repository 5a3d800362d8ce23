import assert from 'node:assert/strict';
import { ServiceError, StatusCode } from '../../errors/service-error';
import { ACTIONS_STREAM, ActionEvent, TargetAddedData } from '../action.events';
import { ActionsState, evolveActions, initialActionsState } from '../actions.state';

/** Rules of targets and executions stated as given events / when a command / then events or an error. */
export const stateOf = (events: readonly ActionEvent[]): ActionsState =>
  events.reduce(
    (state, event, i) => evolveActions(state, { ...event, data: event.data as never, streamId: ACTIONS_STREAM, createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) }),
    initialActionsState,
  );

export function given(...events: ActionEvent[]) {
  return {
    when<C>(decide: (command: C, state: ActionsState) => ActionEvent[], command: C) {
      const decided = () => decide(command, stateOf(events));
      return {
        then: (...expected: ActionEvent[]) => assert.deepEqual(decided(), expected),
        thenNothing: () => assert.deepEqual(decided(), []),
        thenFails: (code: StatusCode, text: string) =>
          assert.throws(decided, (error: unknown) => {
            assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
            assert.equal(error.code, code);
            assert.match(error.text, new RegExp(text));
            return true;
          }),
      };
    },
  };
}

export const target = (overrides: Partial<TargetAddedData> = {}): TargetAddedData => ({
  targetId: 't1',
  name: 'alerts',
  targetType: 'restAsync',
  interruptOnError: false,
  timeoutMs: 10_000,
  endpoint: 'https://alerts.example.com/zitadel',
  signingKey: 'key-1',
  ...overrides,
});

export const targetAdded = (overrides: Partial<TargetAddedData> = {}): ActionEvent => ({ type: 'target.added', data: target(overrides) });
