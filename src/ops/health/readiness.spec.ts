import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ViewReadiness, projectionReadiness } from './readiness';

const running = (name: string, position: number): ViewReadiness => ({ name, position, failure: null });

describe('readiness of the projections', () => {
  it('is ready when every projection is within the allowed lag', () => {
    const readiness = projectionReadiness(120, [running('users', 120), running('auth_factors', 20)], 100);
    assert.deepEqual(readiness.problems, []);
    assert.deepEqual(readiness.projections, { users: { position: 120, lag: 0 }, auth_factors: { position: 20, lag: 100 } });
  });

  it('is not ready when a projection is further behind than allowed, and says which and by how much', () => {
    const readiness = projectionReadiness(121, [running('users', 121), running('auth_factors', 20)], 100);
    assert.deepEqual(readiness.problems, [
      'projection auth_factors is 101 events behind the log (READY_MAX_LAG_EVENTS is 100)',
    ]);
  });

  it('is not ready when a projection stopped on an event, even when it is not behind', () => {
    const failed = {
      ...running('users', 7),
      failure: { position: 8, eventType: 'user.human.added', streamId: 'user-1', message: 'Cannot read properties of null', at: new Date(0) },
    };
    const readiness = projectionReadiness(7, [failed], 1000);
    assert.deepEqual(readiness.problems, ['projection users stopped after position 7'], 'no error text in what anyone may read');
    assert.deepEqual(readiness.details, ['projection users stopped after position 7: Cannot read properties of null']);
    assert.equal(readiness.projections.users.failed, true);
  });

  it('is not ready before the projections have started', () => {
    assert.deepEqual(projectionReadiness(0, [], 1000).problems, ['the projections have not started yet']);
  });

  it('allows no lag at all with a limit of 0', () => {
    assert.equal(projectionReadiness(5, [running('users', 4)], 0).problems.length, 1);
    assert.equal(projectionReadiness(5, [running('users', 5)], 0).problems.length, 0);
  });
});
