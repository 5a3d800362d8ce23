import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectError } from '@connectrpc/connect';
import { RunningServer, startServer, stopAll } from '../support/server';

/**
 * ZITADEL's own SDK, unchanged, against the real server process: gRPC over HTTP/2 on GRPC_PORT and
 * gRPC-web on the HTTP port. The SDK and @zitadel/proto are ES modules whose CommonJS entry points
 * do not load, hence import().
 */
const loadSdk = async () => {
  const [v2, node, web, userPb, userServicePb, messagePb] = await Promise.all([
    import('@zitadel/client/v2'),
    import('@zitadel/client/node'),
    import('@zitadel/client/web'),
    import('@zitadel/proto/zitadel/user/v2/user_pb.js'),
    import('@zitadel/proto/zitadel/user/v2/user_service_pb.js'),
    import('@zitadel/proto/zitadel/message_pb.js'),
  ]);
  return {
    v2,
    node,
    web,
    UserService: userServicePb.UserService,
    AuthFactorState: userPb.AuthFactorState,
    UserState: userPb.UserState,
    ErrorDetailSchema: messagePb.ErrorDetailSchema,
  };
};
type Sdk = Awaited<ReturnType<typeof loadSdk>>;
type UserServiceClient = ReturnType<Sdk['v2']['createUserServiceClient']>;
type Transport = Parameters<Sdk['v2']['createUserServiceClient']>[0];

/** What a client sees of a failure: the same on every protocol, and as REST writes it. */
interface Failure {
  code: number;
  message: string;
  details: Array<{ id: string; message: string }>;
}

const OTP_NOT_FOUND: Failure = {
  code: 5,
  message: "Multifactor OTP (OneTimePassword) doesn't exist (COMMAND-b312D)",
  details: [{ id: 'COMMAND-b312D', message: "Multifactor OTP (OneTimePassword) doesn't exist" }],
};
const PERMISSION_DENIED: Failure = {
  code: 7,
  message: 'No matching permissions found (AUTH-AWfge)',
  details: [{ id: 'AUTH-AWfge', message: 'No matching permissions found' }],
};
const AUTH_HEADER_MISSING: Failure = {
  code: 16,
  message: 'auth header missing (AUTH-7fs1e)',
  details: [{ id: 'AUTH-7fs1e', message: 'auth header missing' }],
};
const USER_NOT_FOUND: Failure = {
  code: 5,
  message: 'User could not be found (COMMAND-4g3xq)',
  details: [{ id: 'COMMAND-4g3xq', message: 'User could not be found' }],
};

describe('zitadel.user.v2.UserService through the @zitadel/client SDK', () => {
  const run = Math.random().toString(36).slice(2, 8);
  const org = `org-${run}`;
  let server: RunningServer;
  let sdk: Sdk;
  let admin: string;
  let stranger: string;

  before(async () => {
    [server, sdk] = await Promise.all([startServer(), loadSdk()]);
    assert.ok(server.grpcPort > 0, `the server logged no gRPC port:\n${server.logs()}`);
    [admin, stranger] = await Promise.all([
      server.token({ sub: `admin-${run}`, org, roles: { IAM_OWNER: [org] } }),
      server.token({ sub: `stranger-${run}`, org: `other-${run}` }),
    ]);
  });
  after(stopAll);

  async function failureOf(call: Promise<unknown>): Promise<Failure> {
    try {
      await call;
    } catch (error) {
      const e = ConnectError.from(error);
      const details = e.findDetails(sdk.ErrorDetailSchema).map(({ id, message }) => ({ id, message }));
      return { code: e.code, message: e.rawMessage, details };
    }
    return assert.fail('the call succeeded');
  }

  async function restFailure(method: string, path: string, body?: unknown): Promise<Failure> {
    const response = await server.request(method, path, { token: admin, body });
    assert.ok(response.status >= 400, response.text);
    const { code, message, details = [] } = response.body as { code: number; message: string; details?: Failure['details'] };
    return { code, message, details: details.map(({ id, message }) => ({ id, message })) };
  }

  let users = 0;
  /** An AddHumanUserRequest with a username (its email) not taken yet. */
  const verifiedHuman = (name: string) => ({
    organization: { org: { case: 'orgId' as const, value: org } },
    profile: { givenName: name, familyName: 'Mouse' },
    email: {
      email: `${name.toLowerCase()}-${run}-${++users}@example.com`,
      verification: { case: 'isVerified' as const, value: true },
    },
  });

  const protocols: Array<{ name: string; transport: (token: string) => Transport }> = [
    {
      name: 'gRPC over HTTP/2 (createServerTransport)',
      transport: (token) => sdk.node.createServerTransport(token, { baseUrl: server.grpcUrl }),
    },
    {
      name: 'gRPC-web over HTTP/1.1 (createClientTransport)',
      transport: (token) => sdk.web.createClientTransport(token, { baseUrl: server.url }),
    },
  ];

  for (const protocol of protocols) {
    describe(protocol.name, () => {
      let client: UserServiceClient;
      let strangerClient: UserServiceClient;
      let anonymousClient: UserServiceClient;
      let userId: string;

      before(() => {
        client = sdk.v2.createUserServiceClient(protocol.transport(admin));
        strangerClient = sdk.v2.createUserServiceClient(protocol.transport(stranger));
        anonymousClient = sdk.v2.createUserServiceClient(protocol.transport(''));
      });

      it('creates a user, adds OTP Email, lists it, and removes it with the contract details', async () => {
        const started = Date.now();
        const created = await client.addHumanUser(verifiedHuman('Minnie'));
        assert.match(created.userId, /^\d{1,19}$/);
        userId = created.userId;
        // user.human.added and user.human.email.verified: the details of the last.
        assert.equal(created.details?.sequence, 2n);
        assert.equal(created.details?.resourceOwner, org);

        const added = await client.addOTPEmail({ userId });
        assert.equal(added.details?.sequence, 3n);

        const listed = await client.listAuthenticationFactors({ userId });
        assert.deepEqual(
          listed.result.map((factor) => [factor.state, factor.type.case]),
          [[sdk.AuthFactorState.READY, 'otpEmail']],
        );

        const removed = await client.removeOTPEmail({ userId });
        const details = removed.details!;
        assert.equal(details.sequence, 4n);
        assert.equal(details.resourceOwner, org);
        const changeDate = Number(details.changeDate!.seconds) * 1000 + details.changeDate!.nanos / 1e6;
        assert.ok(changeDate >= started - 1000 && changeDate <= Date.now() + 1000, `changeDate ${changeDate}`);

        // The same write seen over REST at once: GetUserByID's details are those of the last event.
        const rest = await server.request('GET', `/v2/users/${userId}`, { token: admin });
        assert.equal(rest.status, 200, rest.text);
        assert.deepEqual(rest.body.details, {
          sequence: '4',
          changeDate: new Date(changeDate).toISOString(),
          resourceOwner: org,
        });
        assert.deepEqual((await client.listAuthenticationFactors({ userId })).result, []);
      });

      it('answers a second remove NOT_FOUND with COMMAND-b312D in the ErrorDetail, as REST answers it', async () => {
        assert.deepEqual(await failureOf(client.removeOTPEmail({ userId })), OTP_NOT_FOUND);
        assert.deepEqual(await restFailure('DELETE', `/v2/users/${userId}/otp_email`), OTP_NOT_FOUND);
      });

      it("refuses a stranger's call with PERMISSION_DENIED, and a call without a token with UNAUTHENTICATED", async () => {
        assert.deepEqual(await failureOf(strangerClient.addOTPEmail({ userId })), PERMISSION_DENIED);
        assert.deepEqual(await failureOf(strangerClient.getUserByID({ userId })), PERMISSION_DENIED);
        assert.deepEqual(await failureOf(anonymousClient.removeOTPEmail({ userId })), AUTH_HEADER_MISSING);
        // The caller is checked before the request: a bad user id without a token is still 401.
        assert.deepEqual(await failureOf(anonymousClient.removeOTPEmail({ userId: '' })), AUTH_HEADER_MISSING);
        assert.equal((await failureOf(anonymousClient.listUsers({}))).code, 16);
        // And the request before the permission: a stranger's bad request is 400, its good one 403.
        assert.equal((await failureOf(strangerClient.removeOTPEmail({ userId: '' }))).code, 3);
        assert.equal((await failureOf(strangerClient.setEmail({ userId, email: 'not-an-email' }))).code, 3);
        assert.deepEqual(await failureOf(strangerClient.setEmail({ userId, email: 'stranger@example.com' })), PERMISSION_DENIED);
      });

      it('refuses a bad request with the same INVALID_ARGUMENT text as REST', async () => {
        for (const bad of ['', 'x'.repeat(201)]) {
          assert.deepEqual(await failureOf(client.removeOTPEmail({ userId: bad })), {
            code: 3,
            message: 'invalid RemoveOTPEmailRequest.UserId: value length must be between 1 and 200 runes, inclusive',
            details: [],
          });
        }
        assert.match((await failureOf(client.deleteUser({ userId: '' }))).message, /^invalid DeleteUserRequest\.UserId: /);
        const noName = { ...verifiedHuman('Nameless'), profile: { givenName: '', familyName: 'Mouse' } };
        const rpc = await failureOf(client.addHumanUser(noName));
        const rest = await restFailure('POST', '/v2/users/human', {
          organization: { orgId: org },
          profile: { familyName: 'Mouse' },
          email: { email: `nameless-${run}@example.com`, isVerified: true },
        });
        assert.equal(rpc.code, 3);
        assert.deepEqual(rpc, rest);
        assert.match(rpc.message, /profile\.givenName/);
        const badEmail = await failureOf(client.setEmail({ userId, email: 'not-an-email' }));
        assert.deepEqual(badEmail, await restFailure('POST', `/v2/users/${userId}/email`, { email: 'not-an-email' }));
      });

      it('sets the email, reads the user, and deletes it', async () => {
        const daisy = verifiedHuman('Daisy');
        const { userId: id } = await client.addHumanUser(daisy);
        const changed = await client.setEmail({
          userId: id,
          email: `new-${daisy.email.email}`,
          verification: { case: 'isVerified', value: true },
        });
        assert.equal(changed.details?.sequence, 4n);

        const { user, details } = await client.getUserByID({ userId: id });
        assert.equal(details?.sequence, 4n);
        assert.equal(user?.userId, id);
        assert.equal(user?.state, sdk.UserState.ACTIVE);
        assert.equal(user?.username, daisy.email.email);
        assert.equal(user?.preferredLoginName, daisy.email.email);
        assert.equal(user?.type.case, 'human');
        const human = user.type.value;
        assert.equal(human.profile?.givenName, 'Daisy');
        assert.equal(human.profile?.familyName, 'Mouse');
        assert.equal(human.email?.email, `new-${daisy.email.email}`);
        assert.equal(human.email?.isVerified, true);

        const deleted = await client.deleteUser({ userId: id });
        assert.equal(deleted.details?.sequence, 5n);
        assert.deepEqual(await failureOf(client.getUserByID({ userId: id })), USER_NOT_FOUND);
        assert.deepEqual(await failureOf(client.addOTPEmail({ userId: id })), USER_NOT_FOUND);
      });

      it('answers UNIMPLEMENTED for the methods of the service it does not serve', async () => {
        const failure = await failureOf(client.listUsers({}));
        assert.equal(failure.code, 12);
        assert.equal((await failureOf(client.addOTPSMS({ userId }))).code, 12);
      });
    });
  }

  it("sees REST's writes at once, and REST sees the SDK's", async () => {
    const grpc = sdk.v2.createUserServiceClient(protocols[0].transport(admin));
    const created = await server.request('POST', '/v2/users/human', {
      token: admin,
      body: { organization: { orgId: org }, profile: { givenName: 'Goofy', familyName: 'Goof' }, email: { email: `goofy-${run}@example.com`, isVerified: true } },
    });
    assert.equal(created.status, 200, created.text);
    const userId = created.body.userId as string;
    assert.equal((await grpc.getUserByID({ userId })).user?.username, `goofy-${run}@example.com`);

    // An unverified address set over REST makes the SDK's AddOTPEmail fail at once.
    const changed = await server.request('POST', `/v2/users/${userId}/email`, {
      token: admin,
      body: { email: `goofy-unverified-${run}@example.com` },
    });
    assert.equal(changed.status, 200, changed.text);
    assert.equal((await failureOf(grpc.addOTPEmail({ userId }))).details[0]?.id, 'COMMAND-KLJ2d');

    await grpc.setEmail({ userId, email: `goofy-unverified-${run}@example.com`, verification: { case: 'isVerified', value: true } });
    await grpc.addOTPEmail({ userId });
    const listed = await server.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token: admin });
    assert.deepEqual(listed.body, { result: [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }] });
    const removed = await server.request('DELETE', `/v2/users/${userId}/otp_email`, { token: admin });
    assert.equal(removed.status, 200, removed.text);
    assert.deepEqual(await failureOf(grpc.removeOTPEmail({ userId })), OTP_NOT_FOUND);
  });

  describe('the Connect protocol on the HTTP port', () => {
    let userId: string;
    before(async () => {
      const client = sdk.v2.createUserServiceClient(protocols[0].transport(admin));
      ({ userId } = await client.addHumanUser(verifiedHuman('Pluto')));
      await client.addOTPEmail({ userId });
    });

    const connectJson = (method: string, body: unknown, token = admin) =>
      fetch(`${server.url}/zitadel.user.v2.UserService/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });

    it('answers JSON, as the README shows with curl', async () => {
      const listed = await connectJson('ListAuthenticationFactors', { userId });
      assert.equal(listed.status, 200);
      assert.deepEqual(await listed.json(), { result: [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }] });

      const removed = await connectJson('RemoveOTPEmail', { userId });
      const body = (await removed.json()) as { details: { sequence: string; changeDate: string; resourceOwner: string } };
      assert.equal(body.details.sequence, '4');
      assert.equal(body.details.resourceOwner, org);
      assert.match(body.details.changeDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

      const again = await connectJson('RemoveOTPEmail', { userId });
      assert.equal(again.status, 404);
      const error = (await again.json()) as { code: string; message: string; details: Array<{ type: string; debug: unknown }> };
      assert.equal(error.code, 'not_found');
      assert.equal(error.message, OTP_NOT_FOUND.message);
      assert.deepEqual(
        error.details.map(({ type, debug }) => ({ type, debug })),
        [{ type: 'zitadel.v1.ErrorDetail', debug: OTP_NOT_FOUND.details[0] }],
      );
      assert.equal((await connectJson('RemoveOTPEmail', { userId }, stranger)).status, 403);
    });

    it('answers binary Connect calls', async () => {
      const [{ createClient }, { createConnectTransport }] = await Promise.all([
        import('@connectrpc/connect'),
        import('@connectrpc/connect-node'),
      ]);
      const transport = createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', useBinaryFormat: true });
      const client = createClient(sdk.UserService, transport);
      const callOptions = { headers: { authorization: `Bearer ${admin}` } };
      const { user } = await client.getUserByID({ userId }, callOptions);
      assert.equal(user?.userId, userId);
      assert.deepEqual(await failureOf(client.getUserByID({ userId })), AUTH_HEADER_MISSING);
    });
  });
});

describe('shutdown with the gRPC server open', () => {
  after(stopAll);

  it('SIGTERM closes the gRPC server and its open connections, and the process exits 0', async () => {
    const [server, sdk] = await Promise.all([startServer(), loadSdk()]);
    const token = await server.token({ sub: 'admin', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    const client = sdk.v2.createUserServiceClient(sdk.node.createServerTransport(token, { baseUrl: server.grpcUrl }));
    // Leaves an HTTP/2 connection open and idle, which alone would keep a server from closing.
    await client.addHumanUser({
      profile: { givenName: 'Minnie', familyName: 'Mouse' },
      email: { email: 'minnie@example.com', verification: { case: 'isVerified', value: true } },
    });
    const started = Date.now();
    assert.equal(await server.stop(), 0, server.logs());
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms to stop`);
    assert.match(server.logs(), /gRPC server closed/);
    assert.match(server.logs(), /mfa-service stopped cleanly/);
  });
});
