import { describe, it } from 'node:test';
import { given, targetAdded } from '../testing/actions-decider-spec';
import { decideDeleteTarget } from './delete-target.decide';

describe('DeleteTarget rules', () => {
  it('removes a target', () => {
    given(targetAdded()).when(decideDeleteTarget, { targetId: 't1' }).then({ type: 'target.removed', data: { targetId: 't1' } });
  });

  it('appends nothing for a target that is not there (idempotent)', () => {
    given().when(decideDeleteTarget, { targetId: 't1' }).thenNothing();
    given(targetAdded(), { type: 'target.removed', data: { targetId: 't1' } }).when(decideDeleteTarget, { targetId: 't1' }).thenNothing();
  });
});
