import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunningServer, startServer, stopAll } from '../support/server';
import { ERR, addHumanBody, assertError, createUser, ok, plain, uniqueSuffix } from './support/contract';

/** What every read of a user answers; equal before and after a restart. */
async function snapshot(server: RunningServer, token: string, userIds: string[]) {
  const views: Record<string, unknown> = {};
  for (const userId of userIds) {
    const user = await server.request('GET', `/v2/users/${userId}`, { token });
    const factors = await server.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token });
    views[userId] = { user: [user.status, user.body], factors: [factors.status, factors.body] };
  }
  return views;
}

/** Waits until the server has logged `pattern` (it logs as it goes; this is no guess about timing). */
async function logged(server: RunningServer, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pattern.test(plain(server.logs()))) {
    if (Date.now() > until) assert.fail(`the server did not log ${pattern} within ${timeoutMs} ms:\n${plain(server.logs())}`);
    await sleep(10);
  }
}

interface PartialRequest {
  /** Resolves once the server has read the request's headers: the request is accepted and in flight. */
  accepted: Promise<void>;
  /** Sends the body. */
  finish(): void;
  response: Promise<{ status: number; body: any }>;
}

/**
 * A POST sent with `Expect: 100-continue` on a connection of its own: the server's "100 Continue"
 * proves it has accepted the request, which then waits in flight for its body until `finish`.
 */
function partialPost(server: RunningServer, path: string, token: string, body: unknown): PartialRequest {
  const payload = Buffer.from(JSON.stringify(body));
  const req = httpRequest(`${server.url}${path}`, {
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'content-length': payload.length,
      expect: '100-continue',
    },
  });
  const accepted = new Promise<void>((resolve, reject) => {
    req.once('continue', resolve);
    req.once('error', reject);
  });
  const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      res.on('error', reject);
    });
  });
  req.flushHeaders();
  return { accepted, finish: () => req.end(payload), response };
}

describe('restarts over HTTP', () => {
  const run = uniqueSuffix();
  const org = `org-${run}`;
  let server: RunningServer;
  let dataDir: string;
  let admin: string;
  const userIds: string[] = [];

  before(async () => {
    server = await startServer();
    dataDir = server.dataDir;
    admin = await server.token({ sub: `admin-${run}`, org, roles: { IAM_OWNER: [org] } });
  });
  after(stopAll);

  /** Starts the service again on the same data (and, for other backends, the same store). */
  async function restart(): Promise<void> {
    server = await startServer({ dataDir });
  }

  it('a clean stop (SIGTERM) exits 0, logs it, and the next start reads everything back identically', async () => {
    const withOtp = (await createUser(server, admin, { orgId: org })).userId;
    await ok(server.request('POST', `/v2/users/${withOtp}/otp_email`, { token: admin, body: {} }));
    const removedOtp = (await createUser(server, admin, { orgId: org })).userId;
    await ok(server.request('POST', `/v2/users/${removedOtp}/otp_email`, { token: admin, body: {} }));
    await ok(server.request('DELETE', `/v2/users/${removedOtp}/otp_email`, { token: admin }));
    const unverified = (await createUser(server, admin, { orgId: org })).userId;
    await ok(server.request('POST', `/v2/users/${unverified}/email`, { token: admin, body: { email: `u.${run}@example.com` } }));
    const deleted = (await createUser(server, admin, { orgId: org, username: `deleted-${run}` })).userId;
    await ok(server.request('DELETE', `/v2/users/${deleted}`, { token: admin }));
    userIds.push(withOtp, removedOtp, unverified, deleted);
    const before = await snapshot(server, admin, userIds);

    const exitCode = await server.stop();
    assert.equal(exitCode, 0, plain(server.logs()));
    assert.match(plain(server.logs()), /stopped cleanly/i);

    await restart();
    assert.deepEqual(await snapshot(server, admin, userIds), before);
    // The rules see the same state as the reads: the streams were loaded, not just the read models.
    assertError(await server.request('POST', `/v2/users/${withOtp}/otp_email`, { token: admin, body: {} }), ERR.otpEmailAlreadySetUp);
    assertError(await server.request('DELETE', `/v2/users/${removedOtp}/otp_email`, { token: admin }), ERR.otpEmailNotFound);
    assertError(await server.request('POST', `/v2/users/${unverified}/otp_email`, { token: admin, body: {} }), ERR.otpEmailNotReady);
    assertError(
      await server.request('POST', '/v2/users/human', { token: admin, body: addHumanBody({ userId: deleted, orgId: org }) }),
      ERR.userAlreadyExists,
    );
    const removed = await ok(server.request('DELETE', `/v2/users/${withOtp}/otp_email`, { token: admin }));
    assert.equal(removed.details.sequence, '4');
  });

  it('after SIGKILL, every acknowledged write is there, and none is there by halves', async () => {
    const before = await snapshot(server, admin, userIds);
    const acknowledged = new Map<string, unknown>();
    const attempted = Array.from({ length: 30 }, (_, i) => `killed-${i}-${run}`);
    let settled = 0;
    let killing: Promise<void> | undefined;
    const kill = () => (killing ??= server.kill());
    await Promise.all(
      attempted.map(async (userId) => {
        try {
          const response = await server.request('POST', '/v2/users/human', {
            token: admin,
            body: addHumanBody({ userId, orgId: org, isVerified: true }),
          });
          if (response.status === 200) acknowledged.set(userId, response.body.details);
        } catch {
          // The connection died with the process: not acknowledged, so either outcome is allowed.
        }
        // Kill once a third have answered, while the rest are still on their way.
        if (++settled === 10) await kill();
      }),
    );
    await kill();
    assert.ok(acknowledged.size >= 10, `only ${acknowledged.size} writes were acknowledged before the kill`);

    await restart();
    for (const userId of attempted) {
      const read = await server.request('GET', `/v2/users/${userId}`, { token: admin });
      if (acknowledged.has(userId)) {
        assert.equal(read.status, 200, `acknowledged user ${userId} is missing after SIGKILL: ${read.text}`);
        assert.deepEqual(read.body.details, acknowledged.get(userId));
      } else if (read.status === 200) {
        // Durable though unacknowledged: whole, with both events of the one append.
        assert.equal(read.body.details.sequence, '2');
        assert.equal(read.body.user.human.email.isVerified, true);
      } else {
        assertError(read, ERR.userNotFound);
      }
    }
    // What was there before the kill still is, unchanged.
    assert.deepEqual(await snapshot(server, admin, userIds), before);
  });

  it('on SIGTERM, requests in flight complete with 200, then the process exits 0', async () => {
    const targets = await Promise.all(Array.from({ length: 4 }, () => createUser(server, admin, { orgId: org })));
    const newUserId = `in-flight-${run}`;
    const inFlight = [
      partialPost(server, `/v2/users/${targets[0].userId}/otp_email`, admin, {}),
      partialPost(server, `/v2/users/${targets[1].userId}/email`, admin, { email: `f.${run}@example.com`, isVerified: false }),
      partialPost(server, `/v2/users/${targets[2].userId}/authentication_factors/_search`, admin, {}),
      partialPost(server, '/v2/users/human', admin, addHumanBody({ userId: newUserId, orgId: org })),
      partialPost(server, `/v2/users/${targets[3].userId}/otp_email`, admin, {}),
    ];
    await Promise.all(inFlight.map((r) => r.accepted));
    const stopped = server.stop();
    await logged(server, /received SIGTERM/);
    for (const request of inFlight) request.finish();
    const answers = await Promise.all(inFlight.map((r) => r.response));
    for (const [i, answer] of answers.entries()) assert.equal(answer.status, 200, `request ${i}: ${JSON.stringify(answer.body)}`);
    assert.equal(answers[0].body.details.sequence, '3');
    assert.equal(answers[1].body.details.sequence, '3');
    assert.deepEqual(answers[2].body, {});
    assert.equal(answers[3].body.userId, newUserId);
    assert.equal(await stopped, 0, plain(server.logs()));
    assert.match(plain(server.logs()), /stopped cleanly/i);

    await restart();
    const factors = await ok(
      server.request('POST', `/v2/users/${targets[0].userId}/authentication_factors/_search`, { token: admin }),
    );
    assert.deepEqual(factors, { result: [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }] });
    assert.deepEqual((await ok(server.request('GET', `/v2/users/${targets[1].userId}`, { token: admin }))).details, answers[1].body.details);
    assert.deepEqual((await ok(server.request('GET', `/v2/users/${newUserId}`, { token: admin }))).details, answers[3].body.details);
  });

  it('on SIGTERM, every request it answers gets a contract answer, never Fastify\'s own', async (t) => {
    const { userId } = await createUser(server, admin, { orgId: org });
    const other = await server.token({ sub: `stranger-${run}`, org: `other-${run}` });
    const sent = Array.from({ length: 12 }, (_, i) =>
      i % 3 === 0
        ? server.request('GET', `/v2/users/${userId}`, { token: admin })
        : i % 3 === 1
          ? server.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token: admin })
          : server.request('DELETE', `/v2/users/${userId}/otp_email`, { token: other }),
    );
    const stopped = server.stop();
    const outcomes = await Promise.allSettled(sent);
    let answered = 0;
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') {
        answered++;
        const { status, text } = outcome.value;
        if (i % 3 === 2) assertError(outcome.value, ERR.permissionDenied);
        else assert.equal(status, 200, text);
      } else {
        // A request the server had not read yet when it stopped listening or closed an idle
        // keep-alive connection (HTTP/1.1's own race; a client retries those): refused or reset
        // before any answer. Requests it had read are the previous test's and must all finish.
        const cause = (outcome.reason as { cause?: { code?: string } }).cause;
        assert.ok(
          ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(cause?.code ?? ''),
          `request ${i} failed otherwise than refused or reset unread: ${String(outcome.reason)} ${String(cause)}`,
        );
      }
    }
    assert.equal(await stopped, 0, plain(server.logs()));
    assert.match(plain(server.logs()), /stopped cleanly/i);
    // A clean stop leaves nothing half done: the next start serves at once.
    await restart();
    await ok(server.request('GET', `/v2/users/${userId}`, { token: admin }));
    t.diagnostic(`${answered} of ${sent.length} requests were answered during the stop`);
  });
});
