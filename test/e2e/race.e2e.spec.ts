import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Response, RunningServer, startServer, stopAll } from '../support/server';
import {
  ERR,
  addHumanBody,
  assertDetails,
  assertError,
  createUser,
  ok,
  plain,
  readStoredEvents,
  uniqueSuffix,
  usesEmbeddedStore,
} from './support/contract';

const RACERS = 24;

/** Concurrent writes on one user: exactly one wins, the others get the rule's answer, one event. */
describe('concurrent writes over HTTP', () => {
  const run = uniqueSuffix();
  const org = `org-${run}`;
  let server: RunningServer;
  let admin: string;
  let raced: string;
  let removedDetails: unknown;

  before(async () => {
    server = await startServer();
    admin = await server.token({ sub: `admin-${run}`, org, roles: { IAM_OWNER: [org] } });
  });
  after(stopAll);

  /** Fires all requests before awaiting any, so they are in the server together. */
  const together = (count: number, call: (i: number) => Promise<Response>) =>
    Promise.all(Array.from({ length: count }, (_, i) => call(i)));

  const succeeded = (responses: Response[]) => responses.filter((r) => r.status === 200);

  it(`${RACERS} concurrent RemoveOTPEmail: exactly one 200, ${RACERS - 1} × 404 COMMAND-b312D, one event`, async () => {
    raced = (await createUser(server, admin, { orgId: org })).userId;
    await ok(server.request('POST', `/v2/users/${raced}/otp_email`, { token: admin, body: {} }));
    const before = await ok(server.request('GET', `/v2/users/${raced}`, { token: admin }));
    assert.equal(before.details.sequence, '3');

    // Half the racers are the user itself, half an administrator: both paths race the same way.
    const self = await server.token({ sub: raced, org });
    const responses = await together(RACERS, (i) =>
      server.request('DELETE', `/v2/users/${raced}/otp_email`, { token: i % 2 ? self : admin }),
    );
    const winners = succeeded(responses);
    assert.equal(winners.length, 1, responses.map((r) => `${r.status} ${r.text}`).join('\n'));
    for (const response of responses.filter((r) => r.status !== 200)) assertError(response, ERR.otpEmailNotFound);
    assertDetails(winners[0].body.details, { sequence: 4, resourceOwner: org });
    removedDetails = winners[0].body.details;

    // Exactly one event was appended: the stream grew by one, and reads show the winner's write.
    const afterRace = await ok(server.request('GET', `/v2/users/${raced}`, { token: admin }));
    assert.equal(Number(afterRace.details.sequence), Number(before.details.sequence) + 1);
    assert.deepEqual(afterRace.details, removedDetails);
    assert.deepEqual(
      await ok(server.request('POST', `/v2/users/${raced}/authentication_factors/_search`, { token: admin })),
      {},
    );
  });

  it(`${RACERS} concurrent AddOTPEmail: exactly one 200, the others 409 COMMAND-MKL2s`, async () => {
    const { userId } = await createUser(server, admin, { orgId: org });
    const responses = await together(RACERS, () =>
      server.request('POST', `/v2/users/${userId}/otp_email`, { token: admin, body: {} }),
    );
    assert.equal(succeeded(responses).length, 1, responses.map((r) => `${r.status} ${r.text}`).join('\n'));
    for (const response of responses.filter((r) => r.status !== 200)) assertError(response, ERR.otpEmailAlreadySetUp);
    const read = await ok(server.request('GET', `/v2/users/${userId}`, { token: admin }));
    assert.equal(read.details.sequence, '3');
  });

  it(`${RACERS} concurrent AddHumanUser with one username (in different cases): exactly one user`, async () => {
    const responses = await together(RACERS, (i) =>
      server.request('POST', '/v2/users/human', {
        token: admin,
        body: addHumanBody({ orgId: org, username: i % 2 ? `Goofy-${run}` : `goofy-${run}` }),
      }),
    );
    assert.equal(succeeded(responses).length, 1, responses.map((r) => `${r.status} ${r.text}`).join('\n'));
    for (const response of responses.filter((r) => r.status !== 200)) assertError(response, ERR.userAlreadyExists);
  });

  it(`${RACERS} concurrent AddHumanUser with one id: exactly one user; the losers' usernames stay free`, async () => {
    const userId = `contested-${run}`;
    const responses = await together(RACERS, (i) =>
      server.request('POST', '/v2/users/human', {
        token: admin,
        body: addHumanBody({ userId, orgId: org, username: `pluto-${i}-${run}` }),
      }),
    );
    const winners = succeeded(responses);
    assert.equal(winners.length, 1, responses.map((r) => `${r.status} ${r.text}`).join('\n'));
    for (const response of responses.filter((r) => r.status !== 200)) assertError(response, ERR.userAlreadyExists);
    const winner = await ok(server.request('GET', `/v2/users/${userId}`, { token: admin }));
    assert.equal(winner.details.sequence, '2');
    for (let i = 0; i < RACERS; i++) {
      const username = `pluto-${i}-${run}`;
      if (username === winner.user.username) continue;
      await createUser(server, admin, { orgId: org, username });
    }
  });

  it('the race appended exactly one user.human.mfa.otp.email.removed event (embedded store)', async (t) => {
    const exitCode = await server.stop();
    assert.equal(exitCode, 0, plain(server.logs()));
    if (!usesEmbeddedStore(server)) {
      t.skip('the server does not run on the embedded store');
      return;
    }
    const stream = readStoredEvents(server, { streamId: `user-${raced}` });
    assert.deepEqual(
      stream.map((e) => e.type),
      ['user.human.added', 'user.human.email.verified', 'user.human.mfa.otp.email.added', 'user.human.mfa.otp.email.removed'],
    );
    assert.deepEqual(stream.map((e) => e.revision), [0, 1, 2, 3]);
    assert.equal(readStoredEvents(server, { type: 'user.human.mfa.otp.email.removed' }).length, 1);
    assert.equal(
      new Date(stream[3].createdAt).toISOString(),
      (removedDetails as { changeDate: string }).changeDate,
    );
  });
});
