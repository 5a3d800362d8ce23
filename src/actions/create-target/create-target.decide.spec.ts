import { describe, it } from 'node:test';
import { StatusCode } from '../../errors/service-error';
import { given, target, targetAdded } from '../testing/actions-decider-spec';
import { decideCreateTarget } from './create-target.decide';

describe('CreateTarget rules', () => {
  it('adds a target with its signing key', () => {
    given().when(decideCreateTarget, target()).then({ type: 'target.added', data: target() });
  });

  it('accepts an http endpoint', () => {
    const command = target({ endpoint: 'http://127.0.0.1:9000/hook' });
    given().when(decideCreateTarget, command).then({ type: 'target.added', data: command });
  });

  for (const endpoint of [
    'ftp://example.com/x',
    'not a url',
    'file:///etc/passwd',
    'https://user:pw@example.com/',
    'http:///x',
    ' http://example.com/',
    'http://127.0.0.1:9000/nul\u0000x',
    'http://127.0.0.1:9000/a\nb',
  ]) {
    it(`refuses the endpoint ${endpoint} with code 3`, () => {
      given().when(decideCreateTarget, target({ endpoint })).thenFails(StatusCode.INVALID_ARGUMENT, 'invalid endpoint');
    });
  }

  it('refuses an empty name, a name with control characters, and a timeout of 0', () => {
    given().when(decideCreateTarget, target({ name: ' ' })).thenFails(StatusCode.INVALID_ARGUMENT, 'invalid name');
    given().when(decideCreateTarget, target({ name: 'a\u0000b' })).thenFails(StatusCode.INVALID_ARGUMENT, 'invalid name');
    given().when(decideCreateTarget, target({ name: 'a\nb' })).thenFails(StatusCode.INVALID_ARGUMENT, 'invalid name');
    given().when(decideCreateTarget, target({ timeoutMs: 0 })).thenFails(StatusCode.INVALID_ARGUMENT, 'invalid timeout');
  });

  it('reports a name or an endpoint that is missing as missing', () => {
    given().when(decideCreateTarget, target({ name: '' })).thenFails(StatusCode.INVALID_ARGUMENT, 'invalid name: is required');
    given().when(decideCreateTarget, target({ endpoint: '' })).thenFails(StatusCode.INVALID_ARGUMENT, 'invalid endpoint: is required');
  });

  it('refuses a name another target has', () => {
    given(targetAdded()).when(decideCreateTarget, target({ targetId: 't2' })).thenFails(StatusCode.ALREADY_EXISTS, 'Target already exists');
  });

  it('takes the name of a removed target', () => {
    given(targetAdded(), { type: 'target.removed', data: { targetId: 't1' } })
      .when(decideCreateTarget, target({ targetId: 't2' }))
      .then({ type: 'target.added', data: target({ targetId: 't2' }) });
  });
});
