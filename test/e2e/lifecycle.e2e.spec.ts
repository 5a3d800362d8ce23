import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RunningServer, startServer, stopAll } from '../support/server';
import {
  Details,
  ERR,
  addHumanBody,
  assertDetails,
  assertError,
  ok,
  plain,
  readStoredEvents,
  timed,
  uniqueSuffix,
  userEndpoints,
  usesEmbeddedStore,
} from './support/contract';

/**
 * The OTP Email lifecycle of one user, end to end, step by step: every write's details, and the
 * very next read showing it (no sleeps, no retries). The steps depend on each other, in order.
 */
describe('the OTP Email lifecycle over HTTP', () => {
  const run = uniqueSuffix();
  const org = `org-${run}`;
  const email = `minnie.${run}@example.com`;
  const adminSub = `admin-${run}`;
  let server: RunningServer;
  let admin: string;
  let self: string;
  let userId: string;
  /** The details of the user's last event, as the last write answered them. */
  let last: Details;
  /** Which caller wrote each of the user's events, in order: the creator its metadata must name. */
  const creators: string[] = [];
  const READY = { result: [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }] };

  before(async () => {
    server = await startServer();
    admin = await server.token({ sub: adminSub, org, roles: { IAM_OWNER: [org] } });
  });
  after(stopAll);

  const get = () => server.request('GET', `/v2/users/${userId}`, { token: admin });
  const factors = (body?: unknown) =>
    ok(server.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token: admin, body }));

  /** Runs a write that must answer 200 with the details of event number `sequence`. */
  async function write(
    sequence: number,
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Details> {
    const { result, between } = await timed(() => server.request(method, path, { token: admin, ...options }));
    assert.equal(result.status, 200, result.text);
    const { details } = result.body;
    assertDetails(details, { sequence, resourceOwner: org, between });
    if (last) assert.ok(Date.parse(details.changeDate) >= Date.parse(last.changeDate), 'changeDate went back in time');
    last = details;
    return details;
  }

  /** GetUserByID must show the details of the last write at once. */
  async function assertReadShowsLastWrite(emailView: { email: string; isVerified?: true }) {
    const response = await get();
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body, {
      details: last,
      user: {
        userId,
        state: 'USER_STATE_ACTIVE',
        username: `minnie-${run}`,
        preferredLoginName: `minnie-${run}`,
        human: { profile: { givenName: 'Minnie', familyName: 'Mouse' }, email: emailView },
      },
    });
  }

  it('AddHumanUser with a verified email appends two events and answers the last one\'s details', async () => {
    const { result, between } = await timed(() =>
      server.request('POST', '/v2/users/human', {
        token: admin,
        body: addHumanBody({ orgId: org, username: `minnie-${run}`, email, isVerified: true }),
      }),
    );
    assert.equal(result.status, 200, result.text);
    assert.deepEqual(Object.keys(result.body).sort(), ['details', 'userId']);
    userId = result.body.userId;
    assert.match(userId, /^\d{1,19}$/);
    assertDetails(result.body.details, { sequence: 2, resourceOwner: org, between });
    last = result.body.details;
    creators.push(adminSub, adminSub);
    self = await server.token({ sub: userId, org });
  });

  it('GetUserByID shows the new user at once, with the details of its last event', async () => {
    await assertReadShowsLastWrite({ email, isVerified: true });
  });

  it('ListAuthenticationFactors answers {} while there is none', async () => {
    assert.deepEqual(await factors(), {});
    assert.deepEqual(await factors({ authFactors: ['OTP_EMAIL'], states: ['AUTH_FACTOR_STATE_READY'] }), {});
  });

  it('RemoveOTPEmail before it is set up: 404 COMMAND-b312D, nothing appended', async () => {
    assertError(await server.request('DELETE', `/v2/users/${userId}/otp_email`, { token: admin }), ERR.otpEmailNotFound);
    await assertReadShowsLastWrite({ email, isVerified: true });
  });

  it('AddOTPEmail by the user itself: sequence 3, and the factor is listed at once', async () => {
    await write(3, 'POST', `/v2/users/${userId}/otp_email`, { token: self, body: {} });
    creators.push(userId);
    await assertReadShowsLastWrite({ email, isVerified: true });
    assert.deepEqual(await factors(), READY);
  });

  it('AddOTPEmail again: 409 COMMAND-MKL2s, nothing appended', async () => {
    assertError(await server.request('POST', `/v2/users/${userId}/otp_email`, { token: admin, body: {} }), ERR.otpEmailAlreadySetUp);
    await assertReadShowsLastWrite({ email, isVerified: true });
  });

  it('ListAuthenticationFactors filters by type and state, by name or by number', async () => {
    assert.deepEqual(await factors({}), READY);
    assert.deepEqual(await factors({ authFactors: ['OTP_EMAIL'] }), READY);
    assert.deepEqual(await factors({ authFactors: ['OTP', 'OTP_EMAIL'] }), READY);
    assert.deepEqual(await factors({ authFactors: ['OTP'] }), {});
    assert.deepEqual(await factors({ authFactors: ['OTP_SMS', 'U2F'] }), {});
    assert.deepEqual(await factors({ states: ['AUTH_FACTOR_STATE_READY'] }), READY);
    assert.deepEqual(await factors({ states: ['AUTH_FACTOR_STATE_NOT_READY'] }), {});
    assert.deepEqual(await factors({ states: ['AUTH_FACTOR_STATE_NOT_READY', 'AUTH_FACTOR_STATE_READY'] }), READY);
    assert.deepEqual(await factors({ authFactors: [2], states: [2] }), READY);
    assert.deepEqual(await factors({ authFactors: [0, 1, 3] }), {});
    assert.deepEqual(await factors({ authFactors: [], states: [] }), READY);
  });

  it('RemoveOTPEmail: sequence 4; GetUserByID\'s details equal the write\'s; no factor is listed', async () => {
    const removed = await write(4, 'DELETE', `/v2/users/${userId}/otp_email`);
    creators.push(adminSub);
    assert.deepEqual((await ok(get())).details, removed);
    assert.deepEqual(await factors(), {});
    await assertReadShowsLastWrite({ email, isVerified: true });
  });

  it('RemoveOTPEmail again: 404 COMMAND-b312D', async () => {
    assertError(await server.request('DELETE', `/v2/users/${userId}/otp_email`, { token: self }), ERR.otpEmailNotFound);
    await assertReadShowsLastWrite({ email, isVerified: true });
  });

  it('SetEmail to a new, unverified address by the user itself: sequence 5, shown unverified', async () => {
    await write(5, 'POST', `/v2/users/${userId}/email`, { token: self, body: { email: `new.${email}`, isVerified: false } });
    creators.push(userId);
    // Protobuf JSON leaves out a false isVerified.
    await assertReadShowsLastWrite({ email: `new.${email}` });
  });

  it('AddOTPEmail while the changed email is unverified: 400 COMMAND-KLJ2d', async () => {
    assertError(await server.request('POST', `/v2/users/${userId}/otp_email`, { token: self, body: {} }), ERR.otpEmailNotReady);
    assert.deepEqual(await factors(), {});
  });

  it('SetEmail with the address and state the user has: no new event, the same details', async () => {
    const again = await ok(
      server.request('POST', `/v2/users/${userId}/email`, { token: admin, body: { email: `new.${email}`, isVerified: false } }),
    );
    assert.deepEqual(again.details, last);
    // isVerified left out means false.
    const omitted = await ok(server.request('POST', `/v2/users/${userId}/email`, { token: admin, body: { email: `new.${email}` } }));
    assert.deepEqual(omitted.details, last);
    await assertReadShowsLastWrite({ email: `new.${email}` });
  });

  it('SetEmail with the same address, verified: only the verification is appended (sequence 6)', async () => {
    await write(6, 'POST', `/v2/users/${userId}/email`, { body: { email: `new.${email}`, isVerified: true } });
    creators.push(adminSub);
    await assertReadShowsLastWrite({ email: `new.${email}`, isVerified: true });
    const again = await ok(
      server.request('POST', `/v2/users/${userId}/email`, { token: admin, body: { email: `new.${email}`, isVerified: true } }),
    );
    assert.deepEqual(again.details, last);
  });

  it('SetEmail to another address, verified: two events, the details of the last (sequence 8)', async () => {
    await write(8, 'POST', `/v2/users/${userId}/email`, { body: { email: `third.${email}`, isVerified: true } });
    creators.push(adminSub, adminSub);
    await assertReadShowsLastWrite({ email: `third.${email}`, isVerified: true });
  });

  it('AddOTPEmail once the email is verified again: sequence 9', async () => {
    await write(9, 'POST', `/v2/users/${userId}/otp_email`, {
      token: self,
      body: {},
      headers: { 'x-request-id': `corr-${run}` },
    });
    creators.push(userId);
    assert.deepEqual(await factors(), READY);
    await assertReadShowsLastWrite({ email: `third.${email}`, isVerified: true });
  });

  it('DeleteUser by the user itself: sequence 10; then every endpoint answers 404 COMMAND-4g3xq', async () => {
    await write(10, 'DELETE', `/v2/users/${userId}`, { token: self });
    creators.push(userId);
    for (const token of [admin, self]) {
      for (const endpoint of userEndpoints(userId)) {
        const response = await server.request(endpoint.method, endpoint.path, { token, body: endpoint.body });
        assertError(response, ERR.userNotFound);
      }
    }
    const verify = await server.request('POST', `/v2/users/${userId}/email`, { token: admin, body: { email, isVerified: true } });
    assertError(verify, ERR.userNotFound);
  });

  it('the deleted user\'s id is never given out again, but its username is free', async () => {
    const sameId = await server.request('POST', '/v2/users/human', {
      token: admin,
      body: addHumanBody({ userId, orgId: org, username: `other-${run}` }),
    });
    assertError(sameId, ERR.userAlreadyExists);
    const sameName = await server.request('POST', '/v2/users/human', {
      token: admin,
      body: addHumanBody({ orgId: org, username: `MINNIE-${run}` }),
    });
    assert.equal(sameName.status, 200, sameName.text);
    assert.notEqual(sameName.body.userId, userId);
    assertDetails(sameName.body.details, { sequence: 2, resourceOwner: org });
  });

  it('AddHumanUser with an unverified email: one event; username defaults to the email', async () => {
    const address = `daisy.${run}@example.com`;
    const created = await ok(
      server.request('POST', '/v2/users/human', {
        token: admin,
        body: { organization: { orgId: org }, profile: { givenName: 'Daisy', familyName: 'Duck' }, email: { email: address } },
      }),
    );
    assertDetails(created.details, { sequence: 1, resourceOwner: org });
    const read = await ok(server.request('GET', `/v2/users/${created.userId}`, { token: admin }));
    assert.deepEqual(read, {
      details: created.details,
      user: {
        userId: created.userId,
        state: 'USER_STATE_ACTIVE',
        username: address,
        preferredLoginName: address,
        human: { profile: { givenName: 'Daisy', familyName: 'Duck' }, email: { email: address } },
      },
    });
  });

  it('AddHumanUser with a chosen id keeps it', async () => {
    const chosen = `chosen-${run}`;
    const created = await ok(server.request('POST', '/v2/users/human', { token: admin, body: addHumanBody({ userId: chosen, orgId: org }) }));
    assert.equal(created.userId, chosen);
    assert.equal((await ok(server.request('GET', `/v2/users/${chosen}`, { token: admin }))).user.userId, chosen);
  });

  it('every event carries its organization, its creator and the request\'s correlation id (embedded store)', async (t) => {
    const exitCode = await server.stop();
    assert.equal(exitCode, 0, plain(server.logs()));
    if (!usesEmbeddedStore(server)) {
      t.skip('the server does not run on the embedded store');
      return;
    }
    const stored = readStoredEvents(server, { streamId: `user-${userId}` });
    assert.deepEqual(
      stored.map((e) => e.type),
      [
        'user.human.added',
        'user.human.email.verified',
        'user.human.mfa.otp.email.added',
        'user.human.mfa.otp.email.removed',
        'user.human.email.changed',
        'user.human.email.verified',
        'user.human.email.changed',
        'user.human.email.verified',
        'user.human.mfa.otp.email.added',
        'user.removed',
      ],
    );
    assert.deepEqual(stored.map((e) => e.metadata.creator), creators);
    for (const event of stored) {
      assert.equal(event.metadata.resourceOwner, org);
      assert.equal(typeof event.metadata.correlationId, 'string');
      assert.notEqual(event.metadata.correlationId, '');
    }
    // One request, one correlation id: the two events of one write share it, two writes do not.
    const ids = stored.map((e) => e.metadata.correlationId);
    assert.equal(ids[0], ids[1]);
    assert.equal(ids[6], ids[7]);
    assert.equal(new Set(ids).size, 8);
    // A caller's X-Request-Id becomes the correlation id.
    assert.equal(stored[8].metadata.correlationId, `corr-${run}`);
    // The two OTP Email events have no payload.
    assert.equal(stored[2].data, null);
    assert.equal(stored[3].data, null);
    // Every event anywhere in the store carries the three.
    for (const event of readStoredEvents(server)) {
      for (const key of ['resourceOwner', 'creator', 'correlationId']) {
        assert.equal(typeof event.metadata[key], 'string', `${event.type} at ${event.position} lacks ${key}`);
        assert.notEqual(event.metadata[key], '', `${event.type} at ${event.position} has an empty ${key}`);
      }
    }
  });
});
