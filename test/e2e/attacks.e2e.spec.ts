import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, envelope, openSession } from '../grpc/support/raw-grpc';
import { assertContractError, jsonLines } from '../ops/support/ops';
import { RunningServer, startServer, stopAll } from '../support/server';

/**
 * What an attack on a running instance found, each closed: role claims that name Object.prototype
 * members, paging out of range, ill-formed text, reads of deleted users, files others could read,
 * and a 401 whose reason the log did not give.
 */
describe('what an attacker tried, answered as the contract says', () => {
  let server: RunningServer;
  let admin: string;
  let inOrg2: string;

  const createUser = async (token: string, body: object): Promise<string> => {
    const response = await server.request('POST', '/v2/users/human', { token, body });
    assert.equal(response.status, 200, response.text);
    return response.body.userId;
  };
  const profile = { givenName: 'Attack', familyName: 'Target' };

  before(async () => {
    // A data folder the service makes itself, to see the mode it gives it.
    server = await startServer({ dataDir: join(mkdtempSync(join(tmpdir(), 'mfa-attacks-')), 'data') });
    admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    const org2Owner = await server.token({ sub: 'owner-2', org: 'org-2', roles: { ORG_OWNER: ['org-2'] } });
    inOrg2 = await createUser(org2Owner, { profile, email: { email: 'in.org2@example.com' } });
  });
  after(stopAll);

  it('grants nothing for role names that are Object.prototype members, and answers an existing and a missing user alike', async () => {
    for (const role of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf', 'isPrototypeOf']) {
      const token = await server.token({ sub: `odd-${role}`, org: 'org-1', roles: { [role]: ['org-1', 'org-2'] } });
      const existing = await server.request('GET', `/v2/users/${inOrg2}`, { token });
      const missing = await server.request('GET', '/v2/users/no-such-user-anywhere', { token });
      const removed = await server.request('DELETE', `/v2/users/${inOrg2}/otp_email`, { token });
      for (const [what, response] of [['existing', existing], ['missing', missing], ['remove', removed]] as const) {
        assert.equal(response.status, 403, `${role}, ${what}: ${response.text}`);
        assert.equal(response.body.details[0].id, 'AUTH-AWfge');
      }
    }
  });

  it('answers paging out of range 400 code 3, naming the field, on ListSecurityNotifications', async () => {
    for (const query of [{ offset: '99999999999999999999' }, { offset: 1e300 }, { offset: -1 }, { limit: 1e9 }, { limit: 'five' }, { limit: '-5' }, { offset: 1.5 }]) {
      const response = await server.request('POST', '/admin/v1/security_notifications/_search', { token: admin, body: { query } });
      assert.equal(response.status, 400, `${JSON.stringify(query)}: ${response.text}`);
      assertContractError(response);
      assert.equal(response.body.code, 3);
      assert.match(response.body.message, new RegExp(`query\\.${Object.keys(query)[0]}`), response.body.message);
    }
    // Protobuf JSON writes integers as numbers or strings of digits alike.
    const asString = await server.request('POST', '/admin/v1/security_notifications/_search', { token: admin, body: { query: { offset: '0', limit: '5' } } });
    assert.equal(asString.status, 200, asString.text);
    const inRange = await server.request('POST', '/admin/v1/security_notifications/_search', { token: admin, body: { query: { offset: '1000000000', limit: 1000 } } });
    assert.equal(inRange.status, 200, inRange.text);
  });

  it('refuses text with a lone UTF-16 surrogate 400 code 3 naming the field, on REST, Connect and gRPC, and stores nothing', async () => {
    const body = (userId: string, givenName: string) =>
      `{"userId":"${userId}","profile":{"givenName":"${givenName}","familyName":"S"},"email":{"email":"lone@example.com"}}`;
    const cases: Array<[string, string, RegExp]> = [
      [body('ls\\ud800', 'Lone'), 'userId', /AddHumanUserRequest\.user_id from JSON: .*invalid UTF8/],
      [body('lone-ok', 'Lo\\udc00ne'), 'profile.givenName', /SetHumanProfile\.given_name from JSON: .*invalid UTF8/],
    ];
    for (const [rawBody, field, protoField] of cases) {
      const rest = await server.request('POST', '/v2/users/human', { token: admin, rawBody });
      assert.equal(rest.status, 400, rest.text);
      assert.equal(rest.body.message, `invalid ${field}: must be well-formed text (it holds a lone UTF-16 surrogate)`);

      const connect = await fetch(`${server.url}/zitadel.user.v2.UserService/AddHumanUser`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: rawBody,
      });
      const connectBody = (await connect.json()) as { code: string; message: string };
      assert.equal(connect.status, 400, JSON.stringify(connectBody));
      assert.equal(connectBody.code, 'invalid_argument');
      // Connect's JSON decoder refuses it first, naming the field as the proto does.
      assert.match(connectBody.message, protoField);

      const session = await openSession(server.grpcUrl);
      try {
        const grpc = await call(
          session,
          { authorization: `Bearer ${admin}`, 'content-type': 'application/grpc+json' },
          envelope(Buffer.from(rawBody)),
          '/zitadel.user.v2.UserService/AddHumanUser',
        );
        assert.equal(grpc.grpcStatus, 3);
        assert.match(grpc.grpcMessage ?? '', protoField);
      } finally {
        session.close();
      }
    }
    assert.equal((await server.request('GET', '/v2/users/lone-ok', { token: admin })).status, 404, 'nothing was stored');
    const path = await server.request('GET', '/v2/users/ls%ED%A0%80', { token: admin });
    assert.equal(path.status, 400, path.text);
  });

  it('answers reads of a deleted user 404 COMMAND-4g3xq for whoever may act on it, as commands do', async () => {
    const ownerOfOrg3 = await server.token({ sub: 'owner-3', org: 'org-3', roles: { ORG_OWNER: ['org-3'] } });
    const userId = await createUser(ownerOfOrg3, { profile, email: { email: 'deleted.read@example.com', isVerified: true } });
    assert.equal((await server.request('DELETE', `/v2/users/${userId}`, { token: ownerOfOrg3 })).status, 200);
    const reads = [
      await server.request('GET', `/v2/users/${userId}`, { token: ownerOfOrg3 }),
      await server.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token: ownerOfOrg3, body: {} }),
      await server.request('DELETE', `/v2/users/${userId}/otp_email`, { token: ownerOfOrg3 }),
    ];
    for (const response of reads) {
      assert.equal(response.status, 404, response.text);
      assert.equal(response.body.details[0].id, 'COMMAND-4g3xq');
    }
    const stranger = await server.token({ sub: 'stranger', org: 'org-9', roles: { ORG_OWNER: ['org-9'] } });
    assert.equal((await server.request('GET', `/v2/users/${userId}`, { token: stranger })).status, 403, 'and no oracle for others');
  });

  it('creates its database and key files readable by the service user only', () => {
    assert.equal(statSync(server.dataDir).mode & 0o777, 0o700, 'the data folder');
    assert.equal(statSync(join(server.dataDir, 'dev-signing-key.json')).mode & 0o777, 0o600, 'the development signing key');
    if (!server.databaseUrl && !process.env.EVENTSTORE_CONNECTION_STRING) {
      assert.equal(statSync(join(server.dataDir, 'events.sqlite')).mode & 0o777, 0o600, 'the SQLite file');
    }
    if (!server.databaseUrl) {
      for (const file of ['actions.sqlite', 'actions.sqlite-wal', 'actions.lease']) {
        assert.equal(statSync(join(server.dataDir, file)).mode & 0o777, 0o600, `${file}: Actions' outbox holds signing keys and event bodies`);
      }
    }
  });

  it('logs why a token was refused, and answers only that it was', async () => {
    const expired = await server.token({ sub: 'admin-1', org: 'org-1', expiresIn: '-2h' });
    const response = await server.request('GET', `/v2/users/${inOrg2}`, { token: expired, headers: { 'x-request-id': 'expired-token-1' } });
    assert.equal(response.status, 401);
    assert.doesNotMatch(response.text, /exp|expired/i, 'the answer does not say why');
    // The line is written once the answer is sent: give the server's output a moment to arrive.
    let line: Record<string, any> | undefined;
    for (let i = 0; i < 40 && !line; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      line = jsonLines(server.logs()).find((entry) => entry.reqId === 'expired-token-1' && entry.msg === 'request completed');
    }
    assert.ok(line, server.logs().slice(-2000));
    assert.match(line.failure, /ERR_JWT_EXPIRED|exp/);
  });

  it('answers /readyz with states, keeping error texts for the log', async () => {
    const response = await server.request('GET', '/readyz');
    assert.equal(response.status, 200);
    assert.doesNotMatch(response.text, /message|stack|Error:/);
  });
});
