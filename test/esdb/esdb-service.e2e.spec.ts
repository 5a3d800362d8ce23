import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { EventStoreDBClient, StreamNotFoundError } from '@eventstore/db-client';
import type { ResolvedEvent } from '@eventstore/db-client';
import { RunningServer, startServer, stopAll } from '../support/server';
import { EMULATOR_JS, killEmulators, startEmulator } from './emulator';

/**
 * The service on EventStoreDB, over HTTP: its events are in EventStoreDB as the contract names
 * them, and it lives through the store going away and coming back. Runs against
 * EVENTSTORE_CONNECTION_STRING (in CI: the emulator, not a real server); the outage test starts an
 * emulator of its own (ESDB_EMULATOR), so that killing it disturbs nobody else.
 */
const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

if (!connectionString) console.log('# EventStoreDB HTTP suite skipped: EVENTSTORE_CONNECTION_STRING is not set');
if (!EMULATOR_JS) console.log('# EventStoreDB outage test skipped: ESDB_EMULATOR (the emulator to restart) is not set');

const suffix = () => randomBytes(4).toString('hex');

async function admin(server: RunningServer, org: string): Promise<string> {
  return server.token({ sub: `admin-${suffix()}`, org, roles: { IAM_OWNER: [org] } });
}

function humanBody(org: string, userId?: string) {
  const s = suffix();
  return {
    ...(userId && { userId }),
    organization: { orgId: org },
    profile: { givenName: 'Minnie', familyName: 'Mouse' },
    email: { email: `minnie.${s}@example.com`, isVerified: true },
  };
}

async function readStream(client: EventStoreDBClient, streamId: string): Promise<ResolvedEvent[]> {
  const events: ResolvedEvent[] = [];
  try {
    for await (const resolved of client.readStream(streamId)) events.push(resolved);
  } catch (error) {
    if (!(error instanceof StreamNotFoundError)) throw error;
  }
  return events;
}

describe('the service on EventStoreDB', { skip: !connectionString }, () => {
  after(stopAll);

  it('writes the contract events to the stream user-<id>, with JSON data and metadata', async () => {
    const server = await startServer();
    assert.match(server.logs(), /event store: EventStoreDB/);
    const org = `org-${suffix()}`;
    const token = await admin(server, org);
    const userId = `u-${suffix()}`;
    const requestId = `req-${suffix()}`;
    const body = humanBody(org, userId);
    const created = await server.request('POST', '/v2/users/human', { token, body, headers: { 'x-request-id': requestId } });
    assert.equal(created.status, 200, created.text);
    assert.equal((await server.request('POST', `/v2/users/${userId}/otp_email`, { token, body: {} })).status, 200);
    const removed = await server.request('DELETE', `/v2/users/${userId}/otp_email`, { token });
    assert.equal(removed.status, 200, removed.text);

    const client = EventStoreDBClient.connectionString(connectionString!);
    try {
      const events = (await readStream(client, `user-${userId}`)).map((resolved) => resolved.event!);
      assert.deepEqual(
        events.map((event) => [event.type, Number(event.revision), event.isJson]),
        [
          ['user.human.added', 0, true],
          ['user.human.email.verified', 1, true],
          ['user.human.mfa.otp.email.added', 2, true],
          ['user.human.mfa.otp.email.removed', 3, true],
        ],
      );
      assert.deepEqual(events[0].data, {
        userName: body.email.email,
        firstName: 'Minnie',
        lastName: 'Mouse',
        email: body.email.email,
      });
      assert.equal(events[2].data, null, 'the OTP Email events have no payload');
      assert.equal(events[3].data, null);
      const creator = /"sub":"([^"]+)"/.exec(Buffer.from(token.split('.')[1], 'base64url').toString())![1];
      for (const event of events) {
        assert.match(event.id, UUID);
        const metadata = event.metadata as Record<string, unknown>;
        assert.deepEqual(Object.keys(metadata).sort(), ['correlationId', 'createdAt', 'creator', 'resourceOwner']);
        assert.equal(metadata.resourceOwner, org);
        assert.equal(metadata.creator, creator);
        assert.match(String(metadata.createdAt), ISO_MS);
      }
      assert.equal((events[0].metadata as Record<string, unknown>).correlationId, requestId);
      // The details a write answers are those of its event as stored.
      assert.deepEqual(removed.body.details, {
        sequence: '4',
        changeDate: (events[3].metadata as Record<string, unknown>).createdAt,
        resourceOwner: org,
      });
      const read = await server.request('GET', `/v2/users/${userId}`, { token });
      assert.equal(read.status, 200, read.text);
      assert.deepEqual(read.body.details, removed.body.details);
    } finally {
      await client.dispose();
    }
  });

  it('answers 503 code 14 while EventStoreDB is down, resubscribes, and serves new users once it is back', {
    skip: !EMULATOR_JS && 'ESDB_EMULATOR is not set',
    timeout: 60_000,
  }, async () => {
    after(killEmulators);
    let emulator = await startEmulator();
    const server = await startServer({ env: { EVENTSTORE_CONNECTION_STRING: emulator.connectionString } });
    const org = `org-${suffix()}`;
    const token = await admin(server, org);
    const before = await server.request('POST', '/v2/users/human', { token, body: humanBody(org) });
    assert.equal(before.status, 200, before.text);

    await emulator.kill();
    const down = await server.request('POST', '/v2/users/human', { token, body: humanBody(org) });
    assert.equal(down.status, 503, down.text);
    assert.equal(down.body.code, 14, down.text);
    const otpDown = await server.request('POST', `/v2/users/${before.body.userId}/otp_email`, { token, body: {} });
    assert.equal(otpDown.status, 503, otpDown.text);
    // Reads answer from the read models, which are not in EventStoreDB.
    const readDown = await server.request('GET', `/v2/users/${before.body.userId}`, { token });
    assert.equal(readDown.status, 200, readDown.text);
    await waitFor(() => /subscription to \$all at \S+ dropped/.test(server.logs()), 'the drop to be logged');
    await sleep(1000); // a few failed resubscriptions, so that the backoff shows

    // The emulator keeps nothing across a restart: only new users can be served.
    emulator = await startEmulator(emulator.port);
    await waitFor(() => /resubscribed to \$all at \S+ after \d+ attempt/.test(server.logs()), 'the resubscription');
    const created = await server.request('POST', '/v2/users/human', { token, body: humanBody(org) });
    assert.equal(created.status, 200, created.text);
    const userId = created.body.userId as string;
    assert.equal((await server.request('POST', `/v2/users/${userId}/otp_email`, { token, body: {} })).status, 200);
    const removed = await server.request('DELETE', `/v2/users/${userId}/otp_email`, { token });
    assert.equal(removed.status, 200, removed.text);
    assert.equal(removed.body.details.sequence, '4');

    const logs = server.logs();
    assert.match(logs, /resubscribing to \$all at \S+ \(attempt \d+\)/);
    const delays = [...logs.matchAll(/; resubscribing in (\d+) ms/g)].map((m) => Number(m[1]));
    assert.ok(delays.length >= 2, `several attempts while it was down: ${delays.join(', ')}`);
    assert.ok(delays[1] > delays[0], `the delays grow: ${delays.join(', ')}`);
  });
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
