import assert from 'node:assert/strict';
import { Response, RunningServer } from '../../support/server';
import { Receiver } from './receiver';

export const ok = async <T = any>(call: Promise<Response<T>>): Promise<T> => {
  const response = await call;
  assert.equal(response.status, 200, `${response.status} ${response.text}`);
  return response.body;
};

/** Small backoffs, so that retries and parking fit in a test. */
export const FAST_RETRIES = { ACTIONS_RETRY_INITIAL_MS: '40', ACTIONS_RETRY_MAX_MS: '200', ACTIONS_MAX_ATTEMPTS: '5' };

/** Creates a target at the receiver's `path` and remembers its signing key there; answers its id. */
export async function createTarget(server: RunningServer, token: string, receiver: Receiver, path: string, timeout = '2s'): Promise<string> {
  const created = await ok(
    server.request('POST', '/v2beta/actions/targets', {
      token,
      body: { name: `target ${path} ${Date.now()}`, restAsync: {}, endpoint: receiver.url(path), timeout },
    }),
  );
  assert.match(created.id, /^\d+$/);
  assert.ok(created.signingKey, 'CreateTarget answers the signing key');
  receiver.keys.set(path, created.signingKey);
  return created.id;
}

export async function setExecution(server: RunningServer, token: string, event: Record<string, unknown>, targets: string[]): Promise<void> {
  await ok(server.request('PUT', '/v2beta/actions/executions', { token, body: { condition: { event }, targets } }));
}

/** A user with a verified email in `org`; answers its id. */
export async function addUser(server: RunningServer, token: string, org: string): Promise<string> {
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const { userId } = await ok(
    server.request('POST', '/v2/users/human', {
      token,
      body: {
        organization: { orgId: org },
        profile: { givenName: 'Minnie', familyName: 'Mouse' },
        email: { email: `minnie.${suffix}@example.com`, isVerified: true },
      },
    }),
  );
  return userId;
}

export const addOtpEmail = (server: RunningServer, token: string, userId: string) =>
  ok(server.request('POST', `/v2/users/${userId}/otp_email`, { token, body: {} }));
export const removeOtpEmail = (server: RunningServer, token: string, userId: string) =>
  ok(server.request('DELETE', `/v2/users/${userId}/otp_email`, { token }));

export async function searchDeliveries(server: RunningServer, token: string, body: Record<string, unknown> = {}): Promise<any[]> {
  return (await ok(server.request('POST', '/admin/v1/actions/deliveries/_search', { token, body }))).result ?? [];
}

export async function eventually<T>(read: () => Promise<T>, until: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (until(value)) return value;
    if (Date.now() > end) throw new Error(`timed out; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
