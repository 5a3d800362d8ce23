import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config';
import { backoffMs, eventBodyOf, signatureOf } from '../../src/actions/delivery/event-body';
import { validatePayload } from './support/receiver';

/** The largest value Math.random gives, near enough. */
const ALMOST_ONE = 1 - 1e-12;

const event = {
  eventId: 'e1',
  type: 'user.human.mfa.otp.email.removed',
  data: null,
  metadata: { resourceOwner: 'org-1', creator: 'admin-1', correlationId: 'r1' },
  createdAt: new Date('2026-12-03T16:42:49.037Z'),
  streamId: 'user-minnie',
  revision: 3,
  position: 42,
};

describe('the body and signature of a delivery', () => {
  it("is ZITADEL's event body; a payload-less event has no event_payload", () => {
    assert.equal(
      eventBodyOf(event, 'default'),
      '{"aggregateID":"minnie","aggregateType":"user","resourceOwner":"org-1","instanceID":"default","version":"v2",' +
        '"sequence":4,"event_type":"user.human.mfa.otp.email.removed","created_at":"2026-12-03T16:42:49.037Z","userID":"admin-1"}',
    );
    const removed = JSON.parse(eventBodyOf({ ...event, type: 'user.removed', data: { userName: 'minnie' } }, 'i-2'));
    assert.deepEqual(removed.event_payload, { userName: 'minnie' });
    assert.equal(removed.instanceID, 'i-2');
  });

  it('is signed as ValidatePayload checks it, and not with another key or body', () => {
    const body = eventBodyOf(event, 'default');
    const header = signatureOf(body, 'the-key', new Date());
    assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.equal(validatePayload(body, header, 'the-key'), null);
    assert.equal(validatePayload(body, header, 'another-key'), 'no valid signature');
    assert.equal(validatePayload(body + ' ', header, 'the-key'), 'no valid signature');
    assert.equal(validatePayload(body, signatureOf(body, 'the-key', new Date(Date.now() - 600_000)), 'the-key'), 'timestamp too old');
  });

  it('waits twice as long after each failed try, up to the maximum, with up to half of it left out at random', () => {
    assert.equal(backoffMs(1, 1000, 3_600_000, ALMOST_ONE), 1000);
    assert.equal(backoffMs(1, 1000, 3_600_000, 0), 500);
    assert.equal(backoffMs(4, 1000, 3_600_000, ALMOST_ONE), 8000);
    assert.equal(backoffMs(30, 1000, 3_600_000, ALMOST_ONE), 3_600_000);
    assert.equal(backoffMs(10_000, 1000, 3_600_000, 0), 1_800_000);
  });
});

describe('the Actions settings', () => {
  it('have their defaults', () => {
    assert.deepEqual(loadConfig({}).actions, { retryInitialMs: 1000, retryMaxMs: 3_600_000, maxAttempts: 20, maxInFlightPerTarget: 4, instanceId: 'default', deliveredRetentionMs: 7 * 24 * 3_600_000, signingKeySecret: undefined });
    assert.equal(loadConfig({ ACTIONS_DELIVERED_RETENTION_HOURS: '0' }).actions.deliveredRetentionMs, 0, '0 keeps them for ever');
  });

  for (const [name, value] of [
    ['ACTIONS_RETRY_INITIAL_MS', '0'],
    ['ACTIONS_RETRY_MAX_MS', 'soon'],
    ['ACTIONS_MAX_ATTEMPTS', '0'],
    ['ACTIONS_MAX_IN_FLIGHT_PER_TARGET', '-1'],
    ['INSTANCE_ID', 'a b'],
    ['ACTIONS_DELIVERED_RETENTION_HOURS', '-1'],
    ['ACTIONS_DELIVERED_RETENTION_HOURS', '100000'],
    ['ACTIONS_SIGNING_KEY_SECRET', 'too short'],
  ]) {
    it(`refuse ${name}=${value}, naming the variable`, () => {
      assert.throws(() => loadConfig({ [name]: value }), (error: unknown) => error instanceof ConfigError && error.message.startsWith(`${name}:`));
    });
  }

  it('never repeat the signing key secret in a refusal, and take one of 32 characters or more as it is', () => {
    assert.throws(() => loadConfig({ ACTIONS_SIGNING_KEY_SECRET: 'short secret value' }), (error: unknown) => !(error as Error).message.includes('short secret value'));
    const secret = ` ${'s'.repeat(32)} `;
    assert.equal(loadConfig({ ACTIONS_SIGNING_KEY_SECRET: secret }).actions.signingKeySecret, secret);
  });

  it('refuse a maximum wait below the first', () => {
    assert.throws(
      () => loadConfig({ ACTIONS_RETRY_INITIAL_MS: '5000', ACTIONS_RETRY_MAX_MS: '1000' }),
      /^ConfigError: ACTIONS_RETRY_MAX_MS: must be at least ACTIONS_RETRY_INITIAL_MS/,
    );
  });
});
