import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT, decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import { loadOrCreateDevKey } from '../../src/auth/dev-signing-key';
import { RunningServer, startServer, stopAll } from '../support/server';
import {
  ERR,
  addHumanBody,
  assertContractShape,
  assertError,
  assertInvalidArgument,
  createUser,
  ok,
  uniqueSuffix,
  userEndpoints,
} from './support/contract';

/** Every row of the contract's error table, and the order in which the checks run. */
describe('errors over HTTP', () => {
  const run = uniqueSuffix();
  const orgA = `org-a-${run}`;
  const orgB = `org-b-${run}`;
  const missingId = `missing-${run}`;
  let server: RunningServer;
  let admin: string;
  let iamUserManager: string;
  let orgOwnerA: string;
  let orgUserManagerA: string;
  let stranger: string;
  /** A user of orgA with a verified email and OTP Email set up. */
  let withOtp: string;
  /** A user of orgA with a verified email and no factor. */
  let withoutOtp: string;

  before(async () => {
    server = await startServer();
    [admin, iamUserManager, orgOwnerA, orgUserManagerA, stranger] = await Promise.all([
      server.token({ sub: `admin-${run}`, org: orgA, roles: { IAM_OWNER: [orgA] } }),
      server.token({ sub: `iam-um-${run}`, org: orgB, roles: { IAM_USER_MANAGER: [orgB] } }),
      server.token({ sub: `owner-a-${run}`, org: orgA, roles: { ORG_OWNER: [orgA] } }),
      server.token({ sub: `um-a-${run}`, org: orgA, roles: { ORG_USER_MANAGER: [orgA] } }),
      server.token({ sub: `stranger-${run}`, org: orgB }),
    ]);
    withOtp = (await createUser(server, admin, { orgId: orgA })).userId;
    await ok(server.request('POST', `/v2/users/${withOtp}/otp_email`, { token: admin, body: {} }));
    withoutOtp = (await createUser(server, admin, { orgId: orgA })).userId;
  });
  after(stopAll);

  describe('401 AUTH-7fs1e: no Authorization: Bearer header', () => {
    const headers: Array<[string, Record<string, string>]> = [
      ['no header', {}],
      ['Basic credentials', { authorization: 'Basic x' }],
      ['"Bearer" with nothing after it', { authorization: 'Bearer' }],
      ['"Bearer " with only spaces after it', { authorization: 'Bearer    ' }],
      ['a bare token without the scheme', { authorization: 'eyJhbGciOiJFUzI1NiJ9.e30.sig' }],
    ];
    for (const [what, given] of headers) {
      it(`answers it for ${what}, on every endpoint`, async () => {
        for (const endpoint of [...userEndpoints(withOtp), addHuman()]) {
          const response = await server.request(endpoint.method, endpoint.path, { headers: given, body: endpoint.body });
          assertError(response, ERR.authHeaderMissing);
        }
      });
    }
  });

  describe('401 AUTH-7fs1f: an invalid token', () => {
    /** The claims of a token the server would accept, to sign in ways it must not. */
    async function acceptedClaims() {
      const good = await server.token({ sub: `admin-${run}`, org: orgA, roles: { IAM_OWNER: [orgA] } });
      return { claims: decodeJwt(good), header: { ...decodeProtectedHeader(good), alg: 'ES256' }, good };
    }

    async function assertRejected(token: string): Promise<void> {
      for (const endpoint of [...userEndpoints(withOtp), addHuman()]) {
        const response = await server.request(endpoint.method, endpoint.path, { token, body: endpoint.body });
        assertError(response, ERR.invalidToken);
      }
    }

    it('rejects garbage', async () => {
      await assertRejected('garbage');
      await assertRejected('a.b.c');
    });

    it('rejects a token signed by a foreign ES256 key, with or without the dev key\'s kid', async () => {
      const { claims, header } = await acceptedClaims();
      const { privateKey } = await generateKeyPair('ES256');
      await assertRejected(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(privateKey));
      await assertRejected(await new SignJWT(claims).setProtectedHeader({ ...header, alg: 'ES256' }).sign(privateKey));
    });

    it('rejects an accepted token whose claims were changed after signing', async () => {
      const { good } = await acceptedClaims();
      const [head, , signature] = good.split('.');
      const forged = Buffer.from(
        JSON.stringify({ ...decodeJwt(good), sub: 'someone-else' }),
      ).toString('base64url');
      await assertRejected(`${head}.${forged}.${signature}`);
    });

    it('rejects an expired token (signed with the server\'s own key)', async () => {
      await assertRejected(await server.token({ sub: `admin-${run}`, org: orgA, roles: { IAM_OWNER: [orgA] }, expiresIn: '-2h' }));
    });

    it('rejects a token that is not valid yet, and one without an expiry', async () => {
      const { claims, header } = await acceptedClaims();
      const key = (await loadOrCreateDevKey(server.dataDir)).privateKey;
      const nbf = Math.floor(Date.now() / 1000) + 2 * 3600;
      await assertRejected(await new SignJWT({ ...claims, nbf }).setProtectedHeader(header).sign(key));
      const { exp: _exp, ...forever } = claims;
      await assertRejected(await new SignJWT(forever).setProtectedHeader(header).sign(key));
    });

    it('rejects an unsigned token (alg none)', async () => {
      const { claims } = await acceptedClaims();
      const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      await assertRejected(`${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`);
    });

    it('rejects a token from another issuer, signed with the server\'s own key', async () => {
      const { claims, header } = await acceptedClaims();
      const key = (await loadOrCreateDevKey(server.dataDir)).privateKey;
      await assertRejected(
        await new SignJWT({ ...claims, iss: 'https://issuer.example.com' }).setProtectedHeader(header).sign(key),
      );
    });

    it('rejects a token without a subject', async () => {
      const { claims, header } = await acceptedClaims();
      const key = (await loadOrCreateDevKey(server.dataDir)).privateKey;
      const { sub: _sub, ...anonymous } = claims;
      await assertRejected(await new SignJWT(anonymous).setProtectedHeader(header).sign(key));
    });
  });

  describe('403 AUTH-AWfge', () => {
    it('answers a caller without a permission on an existing user, on every endpoint, and changes nothing', async () => {
      const before = await ok(server.request('GET', `/v2/users/${withOtp}`, { token: admin }));
      for (const endpoint of userEndpoints(withOtp)) {
        const response = await server.request(endpoint.method, endpoint.path, { token: stranger, body: endpoint.body });
        assertError(response, ERR.permissionDenied);
      }
      assertError(
        await server.request('POST', '/v2/users/human', { token: stranger, body: addHumanBody({ orgId: orgA }) }),
        ERR.permissionDenied,
      );
      assert.deepEqual(await ok(server.request('GET', `/v2/users/${withOtp}`, { token: admin })), before);
    });
  });

  describe('404 COMMAND-4g3xq', () => {
    it('answers a caller with the permission everywhere for a user that does not exist, on every endpoint', async () => {
      for (const token of [admin, iamUserManager]) {
        for (const endpoint of userEndpoints(missingId)) {
          const response = await server.request(endpoint.method, endpoint.path, { token, body: endpoint.body });
          assertError(response, ERR.userNotFound);
        }
      }
    });

    it('answers a caller asking about its own id, which does not exist (that reveals nothing)', async () => {
      const self = await server.token({ sub: missingId, org: orgA });
      for (const endpoint of userEndpoints(missingId).filter((e) => e.name !== 'SetEmail')) {
        const response = await server.request(endpoint.method, endpoint.path, { token: self, body: endpoint.body });
        assertError(response, ERR.userNotFound);
      }
    });
  });

  describe('the rules of the OTP Email endpoints', () => {
    it('404 COMMAND-b312D: removing OTP Email that is not set up', async () => {
      assertError(await server.request('DELETE', `/v2/users/${withoutOtp}/otp_email`, { token: admin }), ERR.otpEmailNotFound);
    });

    it('409 COMMAND-MKL2s: adding OTP Email that is already set up', async () => {
      assertError(
        await server.request('POST', `/v2/users/${withOtp}/otp_email`, { token: admin, body: {} }),
        ERR.otpEmailAlreadySetUp,
      );
    });

    it('400 COMMAND-KLJ2d: adding OTP Email while the email is not verified', async () => {
      const { userId } = await createUser(server, admin, { orgId: orgA, isVerified: false });
      assertError(
        await server.request('POST', `/v2/users/${userId}/otp_email`, { token: admin, body: {} }),
        ERR.otpEmailNotReady,
      );
    });
  });

  describe('409 COMMAND-k2unb', () => {
    it('answers AddHumanUser with the id of an existing user, in any organization', async () => {
      for (const orgId of [orgA, orgB]) {
        const response = await server.request('POST', '/v2/users/human', {
          token: admin,
          body: addHumanBody({ userId: withOtp, orgId }),
        });
        assertError(response, ERR.userAlreadyExists);
      }
    });

    it('answers AddHumanUser with the id of a deleted user: ids are never reused', async () => {
      const { userId } = await createUser(server, admin, { orgId: orgA, userId: `deleted-${run}` });
      await ok(server.request('DELETE', `/v2/users/${userId}`, { token: admin }));
      const again = await server.request('POST', '/v2/users/human', { token: admin, body: addHumanBody({ userId, orgId: orgA }) });
      assertError(again, ERR.userAlreadyExists);
      assertError(await server.request('GET', `/v2/users/${userId}`, { token: admin }), ERR.userNotFound);
    });

    it('answers a username taken in the organization, ignoring case; the same name is free in another', async () => {
      await createUser(server, admin, { orgId: orgA, username: `Minnie.${run}` });
      for (const username of [`Minnie.${run}`, `minnie.${run}`, `MINNIE.${run}`]) {
        const response = await server.request('POST', '/v2/users/human', {
          token: admin,
          body: addHumanBody({ orgId: orgA, username }),
        });
        assertError(response, ERR.userAlreadyExists);
      }
      await createUser(server, admin, { orgId: orgB, username: `minnie.${run}` });
    });

    it('answers a taken default username (the email), ignoring case', async () => {
      const email = `daisy.${run}@example.com`;
      await createUser(server, admin, { orgId: orgA, email });
      const response = await server.request('POST', '/v2/users/human', {
        token: admin,
        body: addHumanBody({ orgId: orgA, email: email.toUpperCase() }),
      });
      assertError(response, ERR.userAlreadyExists);
    });

    it('does not keep a name that a failed AddHumanUser tried to take', async () => {
      const username = `donald.${run}`;
      // The id is taken, so this fails; the name it asked for must stay free.
      assertError(
        await server.request('POST', '/v2/users/human', { token: admin, body: addHumanBody({ userId: withOtp, orgId: orgA, username }) }),
        ERR.userAlreadyExists,
      );
      await createUser(server, admin, { orgId: orgA, username });
    });
  });

  describe('400 code 3: the request shape', () => {
    it('answers an empty userId in the path with the endpoint\'s request name and no details', async () => {
      for (const endpoint of userEndpoints('')) {
        const response = await server.request(endpoint.method, endpoint.path, { token: admin, body: endpoint.body });
        assert.equal(response.status, 400, `${endpoint.name}: ${response.text}`);
        assert.deepEqual(response.body, {
          code: 3,
          message: `invalid ${endpoint.request}.UserId: value length must be between 1 and 200 runes, inclusive`,
        });
      }
    });

    it('answers the contract\'s exact text for /v2/users//otp_email', async () => {
      const response = await server.request('DELETE', '/v2/users//otp_email', { token: admin });
      assert.equal(response.status, 400);
      assert.deepEqual(response.body, {
        code: 3,
        message: 'invalid RemoveOTPEmailRequest.UserId: value length must be between 1 and 200 runes, inclusive',
      });
    });

    it('answers a userId of 201 characters, counting characters, not bytes', async () => {
      for (const userId of ['1'.repeat(201), '\u{1F600}'.repeat(201), 'é'.repeat(201)]) {
        for (const endpoint of userEndpoints(userId)) {
          const response = await server.request(endpoint.method, endpoint.path, { token: admin, body: endpoint.body });
          assert.equal(response.status, 400, `${endpoint.name}: ${response.text}`);
          assert.deepEqual(response.body, {
            code: 3,
            message: `invalid ${endpoint.request}.UserId: value length must be between 1 and 200 runes, inclusive`,
          });
        }
      }
    });

    it('answers a far too long userId in the contract\'s shape too', async () => {
      for (const endpoint of userEndpoints('x'.repeat(10_000))) {
        const response = await server.request(endpoint.method, endpoint.path, { token: admin, body: endpoint.body });
        assert.equal(response.status, 400, `${endpoint.name}: ${response.text}`);
        assert.equal(response.body.code, 3);
        assertContractShape(response);
      }
    });

    it('takes a userId of 200 characters (here it does not exist: 404)', async () => {
      for (const userId of ['1'.repeat(200), '\u{1F600}'.repeat(200)]) {
        for (const endpoint of userEndpoints(userId)) {
          const response = await server.request(endpoint.method, endpoint.path, { token: admin, body: endpoint.body });
          assertError(response, ERR.userNotFound);
        }
      }
    });

    it('answers a body that is not valid JSON', async () => {
      for (const endpoint of [...userEndpoints(withOtp).filter((e) => e.body), addHuman()]) {
        const response = await server.request(endpoint.method, endpoint.path, { token: admin, rawBody: '{"email": ' });
        assertInvalidArgument(response, /JSON/i);
      }
    });

    it('answers a JSON body that is not an object', async () => {
      for (const rawBody of ['[]', '[{}]', '5', '"text"', 'true']) {
        for (const endpoint of [...userEndpoints(withOtp).filter((e) => e.body), addHuman()]) {
          const response = await server.request(endpoint.method, endpoint.path, { token: admin, rawBody });
          assertInvalidArgument(response, /object/i);
        }
      }
    });

    it('answers a field of the wrong type, naming it', async () => {
      const cases: Array<[string, unknown, RegExp]> = [
        [`/v2/users/${withOtp}/email`, { email: 5, isVerified: false }, /email/],
        [`/v2/users/${withOtp}/email`, { email: 'x@example.com', isVerified: 'yes' }, /isVerified/],
        [`/v2/users/${withOtp}/authentication_factors/_search`, { authFactors: 'OTP_EMAIL' }, /authFactors/],
        [`/v2/users/${withOtp}/authentication_factors/_search`, { states: [true] }, /states/],
        ['/v2/users/human', { ...addHumanBody({ orgId: orgA }), profile: 'Minnie' }, /profile/],
        ['/v2/users/human', { ...addHumanBody({ orgId: orgA }), profile: { givenName: 5, familyName: 'Mouse' } }, /givenName/],
        ['/v2/users/human', { ...addHumanBody({ orgId: orgA }), email: { email: 'x@example.com', isVerified: 1 } }, /isVerified/],
        ['/v2/users/human', { ...addHumanBody({ orgId: orgA }), userId: 42 }, /userId/],
        ['/v2/users/human', { ...addHumanBody({}), organization: { orgId: 7 } }, /orgId/],
      ];
      for (const [path, body, field] of cases) {
        assertInvalidArgument(await server.request('POST', path, { token: admin, body }), field);
      }
    });

    it('answers a missing or malformed required field, naming it', async () => {
      const valid = addHumanBody({ orgId: orgA });
      const cases: Array<[string, unknown, RegExp]> = [
        [`/v2/users/${withOtp}/email`, {}, /email/],
        [`/v2/users/${withOtp}/email`, { email: 'not an address' }, /email/],
        ['/v2/users/human', { ...valid, profile: undefined }, /profile/],
        ['/v2/users/human', { ...valid, profile: { familyName: 'Mouse' } }, /givenName/],
        ['/v2/users/human', { ...valid, profile: { givenName: 'Minnie', familyName: '' } }, /familyName/],
        ['/v2/users/human', { ...valid, profile: { givenName: 'M'.repeat(201), familyName: 'Mouse' } }, /givenName/],
        ['/v2/users/human', { ...valid, email: undefined }, /email/],
        ['/v2/users/human', { ...valid, email: { email: 'minnie' } }, /email/],
        ['/v2/users/human', { ...valid, userId: '' }, /userId/],
        ['/v2/users/human', { ...valid, userId: 'u'.repeat(201) }, /userId/],
      ];
      for (const [path, body, field] of cases) {
        assertInvalidArgument(await server.request('POST', path, { token: admin, body }), field);
      }
    });

    it('answers an unknown enum name', async () => {
      const path = `/v2/users/${withOtp}/authentication_factors/_search`;
      for (const body of [{ authFactors: ['PASSKEY'] }, { states: ['READY'] }, { authFactors: [99] }, { states: [-1] }]) {
        assertInvalidArgument(await server.request('POST', path, { token: admin, body }), /authFactors|states/);
      }
    });

    it('accepts enums by number, as protobuf JSON does', async () => {
      const path = `/v2/users/${withOtp}/authentication_factors/_search`;
      // 2 is OTP_EMAIL among AuthFactors and AUTH_FACTOR_STATE_READY among the states.
      const byNumber = await ok(server.request('POST', path, { token: admin, body: { authFactors: [2], states: [2] } }));
      assert.deepEqual(byNumber, { result: [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }] });
      // 0 is OTP: not set up.
      assert.deepEqual(await ok(server.request('POST', path, { token: admin, body: { authFactors: [0] } })), {});
    });

    it('ignores unknown fields', async () => {
      const path = `/v2/users/${withOtp}/authentication_factors/_search`;
      const listed = await ok(server.request('POST', path, { token: admin, body: { authFactors: ['OTP_EMAIL'], pageSize: 3, x: {} } }));
      assert.deepEqual(listed, { result: [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }] });
      const created = await ok(
        server.request('POST', '/v2/users/human', { token: admin, body: { ...addHumanBody({ orgId: orgA }), nickName: 'x', metadata: [] } }),
      );
      assert.match(created.userId, /^\d{1,19}$/);
    });

    it('answers a body that is too large with a contract-shaped 4xx, and changes nothing', async () => {
      const before = await ok(server.request('GET', `/v2/users/${withoutOtp}`, { token: admin }));
      const response = await server.request('POST', `/v2/users/${withoutOtp}/email`, {
        token: admin,
        rawBody: JSON.stringify({ email: 'big@example.com', isVerified: true, padding: 'x'.repeat(2 * 1024 * 1024) }),
      });
      assert.ok(response.status >= 400 && response.status < 500, `${response.status} ${response.text}`);
      assertContractShape(response);
      assert.match(response.body.message, /large/i);
      assert.deepEqual(await ok(server.request('GET', `/v2/users/${withoutOtp}`, { token: admin })), before);
    });
  });

  describe('unknown paths and methods', () => {
    it('answers an unknown path with 404 code 5 "Not Found" and no details, with or without a token', async () => {
      const paths: Array<[string, string]> = [
        ['GET', '/v2/nothing'],
        ['GET', '/'],
        ['POST', '/v3/users/human'],
        ['DELETE', `/v2/users/${withOtp}/otp_sms`],
        ['GET', `/v2/users/${withOtp}/otp_email/extra`],
      ];
      for (const [method, path] of paths) {
        assertError(await server.request(method, path, { token: admin }), ERR.notFound);
        assertError(await server.request(method, path), ERR.notFound);
      }
    });

    it('answers a known path with the wrong method with 405 code 12 "Method Not Allowed"', async () => {
      const cases: Array<[string, string]> = [
        ['PUT', `/v2/users/${withOtp}/otp_email`],
        ['GET', `/v2/users/${withOtp}/otp_email`],
        ['PATCH', `/v2/users/${withOtp}/email`],
        ['GET', `/v2/users/${withOtp}/authentication_factors/_search`],
        ['PUT', `/v2/users/${withOtp}`],
        ['DELETE', '/v2/users/human/email'],
      ];
      for (const [method, path] of cases) {
        assertError(await server.request(method, path, { token: admin }), ERR.methodNotAllowed);
      }
    });
  });

  describe('the order of the checks: caller, request shape, permission, rules', () => {
    it('401 before a malformed body or an empty userId', async () => {
      for (const endpoint of [...userEndpoints(withOtp).filter((e) => e.body), addHuman()]) {
        assertError(await server.request(endpoint.method, endpoint.path, { rawBody: '{oops' }), ERR.authHeaderMissing);
        assertError(
          await server.request(endpoint.method, endpoint.path, { token: 'garbage', rawBody: '{oops' }),
          ERR.invalidToken,
        );
      }
      assertError(await server.request('DELETE', '/v2/users//otp_email'), ERR.authHeaderMissing);
    });

    it('400 before a missing permission', async () => {
      for (const token of [stranger, orgUserManagerA]) {
        assertInvalidArgument(
          await server.request('POST', `/v2/users/${withOtp}/email`, { token, body: { email: 'not an address' } }),
          /email/,
        );
        assertInvalidArgument(
          await server.request('POST', '/v2/users/human', { token, body: { ...addHumanBody({ orgId: orgB }), profile: {} } }),
          /givenName/,
        );
        assertInvalidArgument(await server.request('POST', `/v2/users/${withOtp}/otp_email`, { token, rawBody: '[' }), /JSON/i);
        assertInvalidArgument(await server.request('DELETE', '/v2/users//otp_email', { token }), /RemoveOTPEmailRequest/);
      }
    });

    it('for a missing user: 403 for callers whose permission is not for every organization, 404 for IAM roles', async () => {
      const orgScoped = [stranger, orgOwnerA, orgUserManagerA];
      for (const endpoint of userEndpoints(missingId)) {
        for (const token of orgScoped) {
          assertError(await server.request(endpoint.method, endpoint.path, { token, body: endpoint.body }), ERR.permissionDenied);
        }
        for (const token of [admin, iamUserManager]) {
          assertError(await server.request(endpoint.method, endpoint.path, { token, body: endpoint.body }), ERR.userNotFound);
        }
      }
    });

    it('403 before the rules: an unpermitted caller learns nothing about the factor', async () => {
      assertError(await server.request('DELETE', `/v2/users/${withoutOtp}/otp_email`, { token: stranger }), ERR.permissionDenied);
      assertError(await server.request('POST', `/v2/users/${withOtp}/otp_email`, { token: stranger, body: {} }), ERR.permissionDenied);
    });
  });

  function addHuman() {
    return { name: 'AddHumanUser', request: 'AddHumanUserRequest', method: 'POST', path: '/v2/users/human', body: addHumanBody({ orgId: orgA }) };
  }
});
