import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusCode } from '../../errors/service-error';
import { targetsFor } from '../actions.state';
import { given, stateOf, targetAdded } from '../testing/actions-decider-spec';
import { decideSetExecution } from './set-execution.decide';

const removal = { kind: 'event' as const, condition: { event: 'user.human.mfa.otp.email.removed' } };

describe('SetExecution rules', () => {
  it('sets the targets of an event condition', () => {
    given(targetAdded())
      .when(decideSetExecution, { condition: removal, targets: ['t1'] })
      .then({ type: 'execution.set', data: { condition: removal.condition, targets: ['t1'] } });
  });

  it('appends nothing when the execution has these targets already', () => {
    given(targetAdded(), { type: 'execution.set', data: { condition: removal.condition, targets: ['t1'] } })
      .when(decideSetExecution, { condition: removal, targets: ['t1', 't1'] })
      .thenNothing();
  });

  it('removes the execution with an empty list of targets, and appends nothing when there is none', () => {
    given(targetAdded(), { type: 'execution.set', data: { condition: removal.condition, targets: ['t1'] } })
      .when(decideSetExecution, { condition: removal, targets: [] })
      .then({ type: 'execution.removed', data: { condition: removal.condition } });
    given().when(decideSetExecution, { condition: removal, targets: [] }).thenNothing();
  });

  for (const kind of ['request', 'response', 'function', 'none'] as const) {
    it(`refuses a ${kind} condition with 400 code 3`, () => {
      given(targetAdded())
        .when(decideSetExecution, { condition: { kind }, targets: ['t1'] })
        .thenFails(StatusCode.INVALID_ARGUMENT, '^only event conditions are supported$');
    });
  }

  it('refuses an event or group with control characters', () => {
    for (const condition of [{ event: 'a\u0000b' }, { group: 'user.\nhuman' }]) {
      given(targetAdded())
        .when(decideSetExecution, { condition: { kind: 'event', condition }, targets: ['t1'] })
        .thenFails(StatusCode.INVALID_ARGUMENT, 'invalid condition');
    }
  });

  it('fails with 404 for a target that does not exist', () => {
    given().when(decideSetExecution, { condition: removal, targets: ['t9'] }).thenFails(StatusCode.NOT_FOUND, 'Target not found');
  });

  it('matches one type, a group, or all; a removed target is no longer called', () => {
    const state = stateOf([
      targetAdded(),
      targetAdded({ targetId: 't2', name: 'crm' }),
      targetAdded({ targetId: 't3', name: 'audit' }),
      { type: 'execution.set', data: { condition: { event: 'user.removed' }, targets: ['t1'] } },
      { type: 'execution.set', data: { condition: { group: 'user.human' }, targets: ['t2', 't1'] } },
      { type: 'execution.set', data: { condition: { all: true }, targets: ['t3'] } },
    ]);
    const ids = (type: string, s = state) => targetsFor(s, type).map((t) => t.id);
    assert.deepEqual(ids('user.removed'), ['t1', 't3']);
    assert.deepEqual(ids('user.human.mfa.otp.email.removed'), ['t2', 't1', 't3']);
    assert.deepEqual(ids('user.humanoid'), ['t3']);
    const withoutT1 = stateOf([
      targetAdded(),
      { type: 'execution.set', data: { condition: { event: 'user.removed' }, targets: ['t1'] } },
      { type: 'target.removed', data: { targetId: 't1' } },
    ]);
    assert.deepEqual(ids('user.removed', withoutT1), []);
    assert.equal(withoutT1.executions.size, 0);
  });
});
