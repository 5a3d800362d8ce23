import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RunningServer, startServer, stopAll } from '../support/server';
import { ERR, addHumanBody, assertDetails, assertError, assertInvalidArgument, createUser, ok, uniqueSuffix } from './support/contract';

/**
 * The permission matrix of every endpoint: who may act on a user of organization A. Each cell acts
 * on a user of its own, so that a write allowed in one cell cannot change what another sees.
 */
describe('permissions over HTTP', () => {
  const run = uniqueSuffix();
  const orgA = `org-a-${run}`;
  const orgB = `org-b-${run}`;
  let server: RunningServer;
  let setup: string;

  type CallerName =
    | 'self'
    | 'stranger'
    | 'ORG_USER_MANAGER of the user\'s org'
    | 'ORG_USER_MANAGER of another org'
    | 'ORG_OWNER of the user\'s org'
    | 'ORG_OWNER of another org'
    | 'IAM_USER_MANAGER'
    | 'IAM_OWNER';

  const CALLERS: CallerName[] = [
    'self',
    'stranger',
    'ORG_USER_MANAGER of the user\'s org',
    'ORG_USER_MANAGER of another org',
    'ORG_OWNER of the user\'s org',
    'ORG_OWNER of another org',
    'IAM_USER_MANAGER',
    'IAM_OWNER',
  ];

  /** A token for the caller, acting on `userId` (a user of orgA). */
  function tokenOf(caller: CallerName, userId: string): Promise<string> {
    const sub = `caller-${run}-${caller.replace(/\W+/g, '-')}`;
    switch (caller) {
      case 'self':
        return server.token({ sub: userId, org: orgA });
      case 'stranger':
        return server.token({ sub, org: orgB });
      case 'ORG_USER_MANAGER of the user\'s org':
        return server.token({ sub, org: orgA, roles: { ORG_USER_MANAGER: [orgA] } });
      case 'ORG_USER_MANAGER of another org':
        return server.token({ sub, org: orgB, roles: { ORG_USER_MANAGER: [orgB] } });
      case 'ORG_OWNER of the user\'s org':
        return server.token({ sub, org: orgA, roles: { ORG_OWNER: [orgA] } });
      case 'ORG_OWNER of another org':
        return server.token({ sub, org: orgB, roles: { ORG_OWNER: [orgB] } });
      case 'IAM_USER_MANAGER':
        return server.token({ sub, org: orgB, roles: { IAM_USER_MANAGER: [orgB] } });
      case 'IAM_OWNER':
        return server.token({ sub, org: orgB, roles: { IAM_OWNER: [orgB] } });
    }
  }

  const inUsersOrg: CallerName[] = ['ORG_USER_MANAGER of the user\'s org', 'ORG_OWNER of the user\'s org', 'IAM_USER_MANAGER', 'IAM_OWNER'];
  const everyManager = inUsersOrg;
  const selfOrManager: CallerName[] = ['self', ...everyManager];

  interface Cell {
    endpoint: string;
    allowed: CallerName[];
    /** Makes the target user (of orgA) as the cell needs it; resolves its id. */
    prepare(): Promise<string>;
    call(userId: string, token: string): Promise<import('../support/server').Response>;
    /** What an allowed call must have done. */
    check(userId: string, response: import('../support/server').Response): Promise<void>;
  }

  const verifiedUser = async () => (await createUser(server, setup, { orgId: orgA })).userId;
  const userWithOtp = async () => {
    const userId = await verifiedUser();
    await ok(server.request('POST', `/v2/users/${userId}/otp_email`, { token: setup, body: {} }));
    return userId;
  };
  const getUser = (userId: string) => server.request('GET', `/v2/users/${userId}`, { token: setup });
  const factorsOf = (userId: string) =>
    ok(server.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token: setup }));

  const CELLS: Cell[] = [
    {
      endpoint: 'RemoveOTPEmail',
      allowed: selfOrManager,
      prepare: userWithOtp,
      call: (userId, token) => server.request('DELETE', `/v2/users/${userId}/otp_email`, { token }),
      async check(userId, response) {
        assertDetails(response.body.details, { sequence: 4, resourceOwner: orgA });
        assert.deepEqual(await factorsOf(userId), {});
      },
    },
    {
      endpoint: 'AddOTPEmail',
      allowed: selfOrManager,
      prepare: verifiedUser,
      call: (userId, token) => server.request('POST', `/v2/users/${userId}/otp_email`, { token, body: {} }),
      async check(userId, response) {
        assertDetails(response.body.details, { sequence: 3, resourceOwner: orgA });
        assert.deepEqual(await factorsOf(userId), { result: [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }] });
      },
    },
    {
      endpoint: 'SetEmail (unverified)',
      allowed: selfOrManager,
      prepare: verifiedUser,
      call: (userId, token) =>
        server.request('POST', `/v2/users/${userId}/email`, { token, body: { email: `new.${userId}@example.com`, isVerified: false } }),
      async check(userId, response) {
        assertDetails(response.body.details, { sequence: 3, resourceOwner: orgA });
        const { body } = await getUser(userId);
        assert.deepEqual(body.user.human.email, { email: `new.${userId}@example.com` });
      },
    },
    {
      endpoint: 'SetEmail (verified)',
      // Only an administrator may vouch for an address; the user itself may not.
      allowed: everyManager,
      prepare: verifiedUser,
      call: (userId, token) =>
        server.request('POST', `/v2/users/${userId}/email`, { token, body: { email: `new.${userId}@example.com`, isVerified: true } }),
      async check(userId, response) {
        assertDetails(response.body.details, { sequence: 4, resourceOwner: orgA });
        const { body } = await getUser(userId);
        assert.deepEqual(body.user.human.email, { email: `new.${userId}@example.com`, isVerified: true });
      },
    },
    {
      endpoint: 'DeleteUser',
      // ORG_USER_MANAGER lacks user.delete.
      allowed: ['self', 'ORG_OWNER of the user\'s org', 'IAM_USER_MANAGER', 'IAM_OWNER'],
      prepare: userWithOtp,
      call: (userId, token) => server.request('DELETE', `/v2/users/${userId}`, { token }),
      async check(userId, response) {
        assertDetails(response.body.details, { sequence: 4, resourceOwner: orgA });
        assertError(await getUser(userId), ERR.userNotFound);
      },
    },
    {
      endpoint: 'GetUserByID',
      allowed: selfOrManager,
      prepare: verifiedUser,
      call: (userId, token) => server.request('GET', `/v2/users/${userId}`, { token }),
      async check(userId, response) {
        assert.equal(response.body.user.userId, userId);
        assertDetails(response.body.details, { sequence: 2, resourceOwner: orgA });
      },
    },
    {
      endpoint: 'ListAuthenticationFactors',
      allowed: selfOrManager,
      prepare: userWithOtp,
      call: (userId, token) => server.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token, body: {} }),
      async check(_userId, response) {
        assert.deepEqual(response.body, { result: [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }] });
      },
    },
  ];

  before(async () => {
    server = await startServer();
    setup = await server.token({ sub: `setup-${run}`, org: orgA, roles: { IAM_OWNER: [orgA] } });
  });
  after(stopAll);

  for (const cell of CELLS) {
    describe(cell.endpoint, () => {
      for (const caller of CALLERS) {
        const allowed = cell.allowed.includes(caller);
        it(`${allowed ? 'allows' : 'denies'} ${caller}`, async () => {
          const userId = await cell.prepare();
          const before = await getUser(userId);
          const response = await cell.call(userId, await tokenOf(caller, userId));
          if (allowed) {
            assert.equal(response.status, 200, response.text);
            await cell.check(userId, response);
          } else {
            assertError(response, ERR.permissionDenied);
            assert.deepEqual((await getUser(userId)).body, before.body, 'a denied call changed the user');
          }
        });
      }
    });
  }

  describe('AddHumanUser: user.write in the target organization', () => {
    const cases: Array<[string, () => Promise<string>, boolean]> = [
      ['a member of the organization without a role', () => server.token({ sub: `member-${run}`, org: orgA }), false],
      ['a stranger', () => tokenOf('stranger', ''), false],
      ['ORG_USER_MANAGER of the organization', () => tokenOf('ORG_USER_MANAGER of the user\'s org', ''), true],
      ['ORG_USER_MANAGER of another org', () => tokenOf('ORG_USER_MANAGER of another org', ''), false],
      ['ORG_OWNER of the organization', () => tokenOf('ORG_OWNER of the user\'s org', ''), true],
      ['ORG_OWNER of another org', () => tokenOf('ORG_OWNER of another org', ''), false],
      ['IAM_USER_MANAGER', () => tokenOf('IAM_USER_MANAGER', ''), true],
      ['IAM_OWNER', () => tokenOf('IAM_OWNER', ''), true],
    ];
    for (const [who, token, allowed] of cases) {
      it(`${allowed ? 'allows' : 'denies'} ${who} to add a user to organization A`, async () => {
        const body = addHumanBody({ orgId: orgA });
        const response = await server.request('POST', '/v2/users/human', { token: await token(), body });
        if (!allowed) {
          assertError(response, ERR.permissionDenied);
          return;
        }
        assert.equal(response.status, 200, response.text);
        assertDetails(response.body.details, { sequence: 2, resourceOwner: orgA });
        const created = await ok(getUser(response.body.userId));
        assert.equal(created.details.resourceOwner, orgA);
      });
    }

    it('takes the caller\'s organization (the token\'s resourceowner claim) when the request names none', async () => {
      const ownerB = await server.token({ sub: `owner-b2-${run}`, org: orgB, roles: { ORG_OWNER: [orgB] } });
      const response = await server.request('POST', '/v2/users/human', { token: ownerB, body: addHumanBody({}) });
      assert.equal(response.status, 200, response.text);
      assertDetails(response.body.details, { sequence: 2, resourceOwner: orgB });
      assert.equal((await ok(getUser(response.body.userId))).details.resourceOwner, orgB);
    });

    it('denies when the caller\'s own organization is one it may not write to', async () => {
      // Member of A by its token, manager of B only.
      const token = await server.token({ sub: `mixed-${run}`, org: orgA, roles: { ORG_USER_MANAGER: [orgB] } });
      assertError(await server.request('POST', '/v2/users/human', { token, body: addHumanBody({}) }), ERR.permissionDenied);
      const inB = await server.request('POST', '/v2/users/human', { token, body: addHumanBody({ orgId: orgB }) });
      assert.equal(inB.status, 200, inB.text);
      assert.equal(inB.body.details.resourceOwner, orgB);
    });

    it('answers 400 naming the organization when neither the request nor the token names one', async () => {
      const noOrg = await server.token({ sub: `no-org-${run}`, roles: { IAM_OWNER: ['global'] } });
      assertInvalidArgument(await server.request('POST', '/v2/users/human', { token: noOrg, body: addHumanBody({}) }), /organization/i);
    });
  });
});
