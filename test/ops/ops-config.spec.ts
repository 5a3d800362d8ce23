import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config';

const base = { DATA_DIR: '/tmp/mfa-config-test' };

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail(`${JSON.stringify(env)} was accepted`);
}

describe('configuration of limits and readiness', () => {
  it('has defaults that protect without getting in the way', () => {
    const config = loadConfig(base);
    assert.deepEqual(config.http, {
      bodyLimitBytes: 65536,
      requestTimeoutMs: 30000,
      connectionTimeoutMs: 120000,
      keepAliveTimeoutMs: 72000,
      rateLimitPerMinute: 0,
      maxConcurrentStreams: 100,
    });
    assert.equal(config.readyMaxLagEvents, 1000);
  });

  it('reads every setting', () => {
    const config = loadConfig({
      ...base,
      BODY_LIMIT_BYTES: '2048',
      HTTP_REQUEST_TIMEOUT_MS: '0',
      HTTP_CONNECTION_TIMEOUT_MS: '5000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000',
      RATE_LIMIT_PER_MINUTE: '600',
      GRPC_MAX_CONCURRENT_STREAMS: '20',
      READY_MAX_LAG_EVENTS: '0',
    });
    assert.deepEqual(config.http, {
      bodyLimitBytes: 2048,
      requestTimeoutMs: 0,
      connectionTimeoutMs: 5000,
      keepAliveTimeoutMs: 1000,
      rateLimitPerMinute: 600,
      maxConcurrentStreams: 20,
    });
    assert.equal(config.readyMaxLagEvents, 0);
  });

  it('reads NODE_ENV whatever its case and surrounding blanks: a typo must not start production in development mode', () => {
    const oidc = { OIDC_ISSUER: 'https://issuer.example.com' };
    for (const value of ['production', 'Production', 'PRODUCTION', 'production ', ' production\n']) {
      assert.equal(loadConfig({ ...base, ...oidc, NODE_ENV: value }).production, true, JSON.stringify(value));
      assert.throws(() => loadConfig({ ...base, NODE_ENV: value }), /OIDC_ISSUER/, 'and so production refuses to start without OIDC');
    }
    for (const value of ['development', 'test', '', 'prod']) assert.equal(loadConfig({ ...base, NODE_ENV: value }).production, false);
  });

  it('refuses a bad value, naming the variable and the value', () => {
    for (const [name, value] of [
      ['BODY_LIMIT_BYTES', '10'],
      ['BODY_LIMIT_BYTES', '1e6'],
      ['HTTP_REQUEST_TIMEOUT_MS', '-1'],
      ['HTTP_CONNECTION_TIMEOUT_MS', 'soon'],
      ['HTTP_KEEP_ALIVE_TIMEOUT_MS', '0'],
      ['RATE_LIMIT_PER_MINUTE', '1.5'],
      ['READY_MAX_LAG_EVENTS', 'many'],
    ]) {
      const error = refusal({ [name]: value });
      assert.equal(error.variable, name);
      assert.match(error.message, new RegExp(`^${name}: .*"${value.replace('.', '\\.')}"`));
    }
  });
});
