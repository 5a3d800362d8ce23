import { describe, it } from 'node:test';
import { StatusCode } from '../../errors/service-error';
import { given, targetAdded } from '../testing/actions-decider-spec';
import { decideUpdateTarget } from './update-target.decide';

describe('UpdateTarget rules', () => {
  it('appends only what changes', () => {
    given(targetAdded())
      .when(decideUpdateTarget, { targetId: 't1', name: 'alerts', endpoint: 'https://other.example.com/' })
      .then({ type: 'target.changed', data: { targetId: 't1', endpoint: 'https://other.example.com/' } });
  });

  it('appends nothing when nothing differs', () => {
    given(targetAdded()).when(decideUpdateTarget, { targetId: 't1', timeoutMs: 10_000 }).thenNothing();
  });

  it('sets a new signing key', () => {
    given(targetAdded())
      .when(decideUpdateTarget, { targetId: 't1', signingKey: 'key-2' })
      .then({ type: 'target.changed', data: { targetId: 't1', signingKey: 'key-2' } });
  });

  it('fails with 404 for a target that does not exist or was removed', () => {
    given().when(decideUpdateTarget, { targetId: 't1', name: 'x' }).thenFails(StatusCode.NOT_FOUND, 'Target not found');
    given(targetAdded(), { type: 'target.removed', data: { targetId: 't1' } })
      .when(decideUpdateTarget, { targetId: 't1', name: 'x' })
      .thenFails(StatusCode.NOT_FOUND, 'Target not found');
  });

  it("refuses another target's name and a bad endpoint", () => {
    given(targetAdded(), targetAdded({ targetId: 't2', name: 'crm' }))
      .when(decideUpdateTarget, { targetId: 't2', name: 'alerts' })
      .thenFails(StatusCode.ALREADY_EXISTS, 'Target already exists');
    given(targetAdded()).when(decideUpdateTarget, { targetId: 't1', endpoint: 'mailto:a@b.c' }).thenFails(StatusCode.INVALID_ARGUMENT, 'invalid endpoint');
  });
});
