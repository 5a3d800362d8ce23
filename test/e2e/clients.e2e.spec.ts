import assert from 'node:assert/strict';
import { connect as connectHttp2, type IncomingHttpHeaders } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { GET_USER, getUserRequest } from '../grpc/support/raw-grpc';
import { assertContractError } from '../ops/support/ops';
import { Response, RunningServer, startServer, stopAll } from '../support/server';

function expectError(response: Response, status: number, code: number): void {
  assertContractError(response);
  assert.equal(response.status, status, response.text);
  assert.equal(response.body.code, code, response.text);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * What a client written for ZITADEL, or a browser app, expects of the edge: protobuf JSON's proto
 * names, its request id back, `Allow` on a 405, a clear 400 for a misspelt event type, and CORS
 * for the configured origins only.
 */
describe('ZITADEL clients and browser apps at the edge', () => {
  let server: RunningServer;
  let admin: string;

  before(async () => {
    server = await startServer({ env: { CORS_ALLOWED_ORIGINS: 'http://app.example.test:3000,https://admin.example.test' } });
    admin = await server.token({ sub: 'admin-1', org: 'acme', roles: { IAM_OWNER: ['acme'] } });
  });
  after(stopAll);

  describe('request bodies in proto names, as protobuf JSON takes them', () => {
    it('AddHumanUser, SetEmail, AddOTPEmail and ListAuthenticationFactors take proto names', async () => {
      const added = await server.request('POST', '/v2/users/human', {
        token: admin,
        body: {
          user_id: 'proto-names',
          organization: { org_id: 'acme' },
          profile: { given_name: 'Proto', family_name: 'Names' },
          email: { email: 'proto.names@example.com', is_verified: true },
        },
      });
      assert.equal(added.status, 200, added.text);
      assert.equal(added.body.userId, 'proto-names');
      const user = await server.request('GET', '/v2/users/proto-names', { token: admin });
      assert.equal(user.body.user.human.profile.givenName, 'Proto');
      assert.equal(user.body.user.human.profile.familyName, 'Names');
      assert.equal(user.body.user.human.email.isVerified, true);

      const changed = await server.request('POST', '/v2/users/proto-names/email', {
        token: admin,
        body: { email: 'proto.renamed@example.com', is_verified: true },
      });
      assert.equal(changed.status, 200, changed.text);
      const renamed = await server.request('GET', '/v2/users/proto-names', { token: admin });
      assert.equal(renamed.body.user.human.email.email, 'proto.renamed@example.com');
      assert.equal(renamed.body.user.human.email.isVerified, true, 'is_verified was read');

      assert.equal((await server.request('POST', '/v2/users/proto-names/otp_email', { token: admin, body: {} })).status, 200);
      const listed = await server.request('POST', '/v2/users/proto-names/authentication_factors/_search', {
        token: admin,
        body: { auth_factors: ['OTP_EMAIL'], states: ['AUTH_FACTOR_STATE_READY'] },
      });
      assert.equal(listed.status, 200, listed.text);
      assert.deepEqual(listed.body.result, [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }]);
      const none = await server.request('POST', '/v2/users/proto-names/authentication_factors/_search', {
        token: admin,
        body: { auth_factors: ['U2F'] },
      });
      assert.deepEqual(none.body.result ?? [], [], 'auth_factors filtered: it was read');
    });

    it('ListSecurityNotifications takes its query in proto names', async () => {
      const listed = await server.request('POST', '/admin/v1/security_notifications/_search', {
        token: admin,
        body: { query: { offset: '0', limit: 1, asc: true } },
      });
      assert.equal(listed.status, 200, listed.text);
      const refused = await server.request('POST', '/admin/v1/security_notifications/_search', {
        token: admin,
        body: { query: { limit: 'many' } },
      });
      expectError(refused, 400, 3);
      assert.match(refused.body.message, /query\.limit/);
    });

    it('refuses a field given under both names, naming it', async () => {
      const response = await server.request('POST', '/v2/users/human', {
        token: admin,
        body: { profile: { givenName: 'A', given_name: 'B', familyName: 'C' }, email: { email: 'twice@example.com' } },
      });
      expectError(response, 400, 3);
      assert.equal(response.body.message, 'invalid profile.givenName: given twice, as givenName and as given_name');
    });

    it('refuses two fields of one oneof, as Connect does, and takes one of them', async () => {
      const twice = await server.request('POST', '/v2/users/proto-names/email', {
        token: admin,
        body: { email: 'oneof@example.com', return_code: {}, is_verified: true },
      });
      expectError(twice, 400, 3);
      assert.equal(twice.body.message, 'invalid email: sendCode, returnCode, isVerified are one choice: give at most one of them');
      const viaConnect = await server.request('POST', '/zitadel.user.v2.UserService/SetEmail', {
        token: admin,
        body: { userId: 'proto-names', email: 'oneof@example.com', returnCode: {}, isVerified: true },
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(viaConnect.status, 400, viaConnect.text);
      const added = await server.request('POST', '/v2/users/human', {
        token: admin,
        body: { profile: { givenName: 'One', familyName: 'Of' }, email: { email: 'oneof2@example.com', sendCode: {}, returnCode: {} } },
      });
      expectError(added, 400, 3);
      assert.match(added.body.message, /^invalid email: sendCode, returnCode, isVerified are one choice/);
      const one = await server.request('POST', '/v2/users/human', {
        token: admin,
        body: { profile: { givenName: 'One', familyName: 'Of' }, email: { email: 'oneof3@example.com', send_code: { url_template: 'https://x.example/{{.Code}}' } } },
      });
      assert.equal(one.status, 200, one.text);
    });

    it('reports a missing required field as missing, not as too short', async () => {
      const response = await server.request('POST', '/v2/users/human', {
        token: admin,
        body: { profile: { family_name: 'Only' }, email: { email: 'missing@example.com' } },
      });
      expectError(response, 400, 3);
      assert.equal(response.body.message, 'invalid profile.givenName: is required');
      const empty = await server.request('POST', '/v2/users/human', {
        token: admin,
        body: { profile: { givenName: '', familyName: 'Empty' }, email: { email: 'empty@example.com' } },
      });
      assert.match(empty.body.message, /^invalid profile\.givenName: must be longer than or equal to 1 characters/);
      const noProfile = await server.request('POST', '/v2/users/human', { token: admin, body: { email: { email: 'x@example.com' } } });
      assert.equal(noProfile.body.message, 'invalid profile: is required');
    });
  });

  describe('X-Request-Id', () => {
    it('comes back on every REST answer: the caller\'s when valid, else a new one', async () => {
      const given = await server.request('GET', '/v2/users/proto-names', { token: admin, headers: { 'x-request-id': 'client-42.a:b' } });
      assert.equal(given.headers.get('x-request-id'), 'client-42.a:b');
      for (const [method, path, token] of [
        ['GET', '/v2/users/proto-names', admin],
        ['GET', '/v2/users/proto-names', undefined],
        ['GET', '/no/such/path', admin],
        ['PUT', '/v2/users/proto-names/otp_email', admin],
        ['GET', '/healthz', undefined],
        // Refused by the router, before any route runs: a parameter longer than any user id.
        ['GET', `/v2/users/${'x'.repeat(5000)}`, admin],
      ] as const) {
        const response = await server.request(method, path, { token });
        assert.match(response.headers.get('x-request-id') ?? '', UUID, `${method} ${path} ${response.status}`);
      }
      const bad = await server.request('GET', '/healthz', { headers: { 'x-request-id': 'has spaces and {braces}' } });
      assert.match(bad.headers.get('x-request-id') ?? '', UUID, 'an invalid id is replaced');
      const logged = server.logs().split('\n').some((line) => line.includes('"reqId":"client-42.a:b"'));
      assert.ok(logged, 'the log line names the id the client got');
    });

    it('comes back as response metadata on gRPC, and on Connect', async () => {
      const session = connectHttp2(server.grpcUrl);
      try {
        const headersOf = (requestId?: string, token: string | null = admin) =>
          new Promise<IncomingHttpHeaders>((resolve, reject) => {
            const stream = session.request({
              ':method': 'POST',
              ':path': GET_USER,
              'content-type': 'application/grpc',
              te: 'trailers',
              ...(token ? { authorization: `Bearer ${token}` } : {}),
              ...(requestId ? { 'x-request-id': requestId } : {}),
            });
            stream.on('response', resolve);
            stream.on('error', reject);
            stream.on('data', () => undefined);
            stream.end(getUserRequest('proto-names'));
          });
        assert.equal((await headersOf('grpc-call-7'))['x-request-id'], 'grpc-call-7');
        assert.match(String((await headersOf())['x-request-id']), UUID);
        const refused = await headersOf('refused-call-9', null);
        assert.equal(refused['grpc-status'], '16', 'no token: UNAUTHENTICATED, before any body');
        assert.equal(refused['x-request-id'], 'refused-call-9', 'a refusal names the call too');
      } finally {
        session.close();
      }
      const connect = await server.request('POST', '/zitadel.user.v2.UserService/GetUserByID', {
        token: admin,
        body: { userId: 'proto-names' },
        headers: { 'content-type': 'application/json', 'x-request-id': 'connect-call-8' },
      });
      assert.equal(connect.status, 200, connect.text);
      assert.equal(connect.headers.get('x-request-id'), 'connect-call-8');
    });
  });

  describe('Allow on 405', () => {
    it('names the methods a REST path is served with', async () => {
      const response = await server.request('PUT', '/v2/users/proto-names/otp_email', { token: admin });
      expectError(response, 405, 12);
      assert.equal(response.headers.get('allow'), 'DELETE, POST');
      const user = await server.request('PATCH', '/v2/users/proto-names', { token: admin });
      assert.equal(user.status, 405);
      assert.equal(user.headers.get('allow'), 'DELETE, GET, HEAD');
    });

    it('says POST for a Connect method called with GET', async () => {
      const response = await server.request('GET', '/zitadel.user.v2.UserService/RemoveOTPEmail?encoding=json&message=%7B%7D', { token: admin });
      assert.equal(response.status, 405, response.text);
      assert.equal(response.headers.get('allow'), 'POST');
    });
  });

  it('answers a misspelt event type in the stream filter 400, naming it', async () => {
    const response = await server.request('GET', '/v2/events/_stream?eventTypes=user.human.added,user.human.mfa.otp.emial.removed', { token: admin });
    expectError(response, 400, 3);
    assert.match(response.body.message, /^invalid eventTypes: unknown event type user\.human\.mfa\.otp\.emial\.removed; the types are .*user\.human\.mfa\.otp\.email\.removed/);
  });

  describe('CORS (CORS_ALLOWED_ORIGINS)', () => {
    const preflight = (origin: string, path: string, method: string, headers: string) =>
      server.request('OPTIONS', path, {
        headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
      });

    it('answers preflights of a configured origin for REST, Connect and gRPC-web, with the headers their clients send', async () => {
      const rest = await preflight('http://app.example.test:3000', '/v2/users/x/otp_email', 'DELETE', 'authorization,x-request-id');
      assert.equal(rest.status, 204, rest.text);
      assert.equal(rest.headers.get('access-control-allow-origin'), 'http://app.example.test:3000');
      assert.match(rest.headers.get('access-control-allow-methods') ?? '', /DELETE/);
      assert.match(rest.headers.get('x-request-id') ?? '', UUID, 'a preflight names its request too');
      const web = await preflight(
        'https://admin.example.test',
        '/zitadel.user.v2.UserService/GetUserByID',
        'POST',
        'authorization,content-type,x-grpc-web,x-user-agent,grpc-timeout,connect-protocol-version,connect-timeout-ms',
      );
      assert.equal(web.status, 204, web.text);
      const allowed = (web.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      for (const header of ['authorization', 'content-type', 'x-grpc-web', 'x-user-agent', 'grpc-timeout', 'connect-protocol-version']) {
        assert.ok(allowed.includes(header), `${header} in ${allowed}`);
      }
    });

    it('lets the browser read the answer and the headers gRPC-web clients read', async () => {
      const response = await server.request('GET', '/v2/users/proto-names', { token: admin, headers: { origin: 'http://app.example.test:3000' } });
      assert.equal(response.headers.get('access-control-allow-origin'), 'http://app.example.test:3000');
      const exposed = (response.headers.get('access-control-expose-headers') ?? '').toLowerCase();
      for (const header of ['grpc-status', 'grpc-message', 'x-request-id']) assert.ok(exposed.includes(header), `${header} in ${exposed}`);
    });

    it('allows no other origin', async () => {
      const response = await preflight('http://evil.example.test', '/v2/users/x/otp_email', 'DELETE', 'authorization');
      assert.equal(response.headers.get('access-control-allow-origin'), null);
      const simple = await server.request('GET', '/v2/users/proto-names', { token: admin, headers: { origin: 'http://evil.example.test' } });
      assert.equal(simple.headers.get('access-control-allow-origin'), null);
    });

    it('is off when CORS_ALLOWED_ORIGINS is unset, and a bad origin is refused at start, naming the variable', async () => {
      const plain = await startServer();
      const response = await plain.request('OPTIONS', '/v2/users/x/otp_email', {
        headers: { origin: 'http://app.example.test:3000', 'access-control-request-method': 'DELETE' },
      });
      assert.equal(response.headers.get('access-control-allow-origin'), null);
      await plain.stop();
      await assert.rejects(startServer({ env: { CORS_ALLOWED_ORIGINS: 'https://app.example.test/path' } }), /CORS_ALLOWED_ORIGINS: must be comma-separated origins/);
    });
  });
});
