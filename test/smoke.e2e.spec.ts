import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RunningServer, startServer, stopAll } from './support/server';

describe('smoke: the OTP Email lifecycle over HTTP', () => {
  let server: RunningServer;
  let admin: string;
  before(async () => {
    server = await startServer();
    admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
  });
  after(stopAll);

  it('creates a user, adds and removes OTP Email, and lists factors', async () => {
    const created = await server.request('POST', '/v2/users/human', {
      token: admin,
      body: { profile: { givenName: 'Minnie', familyName: 'Mouse' }, email: { email: 'm@example.com', isVerified: true } },
    });
    assert.equal(created.status, 200, created.text);
    const userId = created.body.userId as string;
    assert.match(userId, /^\d{1,19}$/);
    assert.equal((await server.request('POST', `/v2/users/${userId}/otp_email`, { token: admin, body: {} })).status, 200);
    const removed = await server.request('DELETE', `/v2/users/${userId}/otp_email`, { token: admin });
    assert.equal(removed.status, 200);
    assert.equal(removed.body.details.sequence, '4');
    const listed = await server.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token: admin });
    assert.deepEqual(listed.body, {});
  });
});
