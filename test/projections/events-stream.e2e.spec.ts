import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RunningServer, startServer, stopAll } from '../support/server';
import { SseClient, SseEvent } from './support/sse-client';

const OTP_ADDED = 'user.human.mfa.otp.email.added';
const OTP_REMOVED = 'user.human.mfa.otp.email.removed';

describe('GET /v2/events/_stream: committed events as Server-Sent Events', () => {
  let server: RunningServer;
  let admin: string;
  const clients: SseClient[] = [];

  const open = async (path = '/v2/events/_stream', headers: Record<string, string> = {}, token = admin) => {
    const client = await SseClient.open(server.url + path, { authorization: `Bearer ${token}`, ...headers });
    clients.push(client);
    return client;
  };
  const head = async (): Promise<string> =>
    (await server.request('POST', '/admin/v1/views/_search', { token: admin })).body.result[0].headSequence;
  const createUser = async (name: string): Promise<string> => {
    const response = await server.request('POST', '/v2/users/human', {
      token: admin,
      body: { profile: { givenName: name, familyName: 'Streamed' }, email: { email: `${name}@example.com`, isVerified: true } },
    });
    assert.equal(response.status, 200, response.text);
    return response.body.userId;
  };
  const otp = async (method: 'POST' | 'DELETE', userId: string) => {
    const response = await server.request(method, `/v2/users/${userId}/otp_email`, { token: admin, body: method === 'POST' ? {} : undefined });
    assert.equal(response.status, 200, response.text);
    return response.body;
  };
  const ids = (events: readonly SseEvent[]) => events.map((e) => Number(e.id));

  before(async () => {
    server = await startServer({ env: { EVENTS_STREAM_HEARTBEAT_MS: '200' } });
    admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    for (let i = 0; i < 6; i++) await otp('POST', await createUser(`history${i}`));
  });
  after(async () => {
    for (const client of clients) await client.close();
    await stopAll();
  });

  it('replays history from the first event, then sends new events live, with heartbeats', async () => {
    const client = await open();
    assert.equal(client.status, 200);
    assert.match(client.headers!.get('content-type') ?? '', /^text\/event-stream/);
    const upTo = await head();
    await client.until((c) => c.events.at(-1)?.id === upTo, `history up to ${upTo}`);
    assert.ok(ids(client.events).every((id, i, all) => i === 0 || id > all[i - 1]), 'ids are global positions, increasing');

    const userId = await createUser('live');
    const added = await otp('POST', userId);
    await client.until((c) => c.events.some((e) => e.event === OTP_ADDED && e.data.aggregateId === userId), 'the live event');
    const event = client.events.find((e) => e.event === OTP_ADDED && e.data.aggregateId === userId)!;
    assert.deepEqual(Object.keys(event.data).sort(), [
      'aggregateId', 'aggregateType', 'correlationId', 'creationDate', 'creator', 'resourceOwner', 'sequence', 'type',
    ]);
    assert.equal(event.data.type, OTP_ADDED);
    assert.equal(event.data.aggregateType, 'user');
    assert.equal(event.data.sequence, added.details.sequence);
    assert.equal(event.data.creationDate, added.details.changeDate);
    assert.equal(event.data.resourceOwner, added.details.resourceOwner);
    assert.equal(event.data.creator, 'admin-1');
    const created = client.events.find((e) => e.event === 'user.human.added' && e.data.aggregateId === userId)!;
    assert.deepEqual(created.data.payload, { userName: 'live@example.com', firstName: 'live', lastName: 'Streamed', email: 'live@example.com' });

    const comments = client.comments;
    await client.until((c) => c.comments >= comments + 2, 'heartbeats', 3000);
  });

  it('gives a client that reconnects with Last-Event-ID every later event exactly once', async () => {
    const first = await open();
    const upTo = await head();
    await first.until((c) => c.events.at(-1)?.id === upTo, 'history');
    // Disconnect in the middle of the history, then the log moves on while it is away.
    const cut = first.events[Math.floor(first.events.length / 2)];
    const received = first.events.slice(0, first.events.indexOf(cut) + 1);
    await first.close();
    const userId = await createUser('away');
    await otp('POST', userId);
    await otp('DELETE', userId);
    const last = await head();

    const resumed = await open('/v2/events/_stream', { 'Last-Event-ID': cut.id });
    await resumed.until((c) => c.events.at(-1)?.id === last, 'the events after the cut');
    // Live events after the reconnect come once too.
    await otp('POST', userId);
    const latest = await head();
    await resumed.until((c) => c.events.at(-1)?.id === latest, 'the live event after the reconnect');

    const everything = await open();
    await everything.until((c) => c.events.at(-1)?.id === latest, 'the whole log');
    const stitched = [...ids(received), ...ids(resumed.events)];
    assert.deepEqual(stitched, ids(everything.events), 'nothing skipped, nothing repeated');
    assert.deepEqual(
      [...received, ...resumed.events].map((e) => e.data),
      everything.events.map((e) => e.data),
    );
  });

  it('sends only the event types asked for, with their global positions as ids', async () => {
    const all = await open();
    const filtered = await open(`/v2/events/_stream?eventTypes=${OTP_ADDED},${OTP_REMOVED}`);
    const userId = await createUser('filtered');
    await otp('POST', userId);
    await otp('DELETE', userId);
    const upTo = await head();
    await all.until((c) => c.events.at(-1)?.id === upTo, 'everything');
    await filtered.until((c) => c.events.some((e) => e.event === OTP_REMOVED && e.data.aggregateId === userId), 'the removal');
    const expected = all.events.filter((e) => e.event === OTP_ADDED || e.event === OTP_REMOVED);
    assert.deepEqual(filtered.events, expected);
  });

  it('is for IAM owners only, and checks its input', async () => {
    const manager = await server.token({ sub: 'manager-1', org: 'org-1', roles: { ORG_USER_MANAGER: ['org-1'] } });
    const denied = await open('/v2/events/_stream', {}, manager);
    assert.equal(denied.status, 403);
    assert.equal(denied.errorBody.details[0].id, 'AUTH-AWfge');
    const iamUserManager = await server.token({ sub: 'iam-manager', org: 'org-1', roles: { IAM_USER_MANAGER: ['org-1'] } });
    assert.equal((await open('/v2/events/_stream', {}, iamUserManager)).status, 403);
    const anonymous = await SseClient.open(`${server.url}/v2/events/_stream`, {});
    assert.equal(anonymous.status, 401);
    const badId = await open('/v2/events/_stream', { 'Last-Event-ID': 'yesterday' });
    assert.equal(badId.status, 400);
    assert.equal(badId.errorBody.code, 3);
    assert.match(badId.errorBody.message, /Last-Event-ID/);
    assert.equal((await open('/v2/events/_stream?eventTypes=a,,b')).status, 400);
  });

  it('ends open streams when the server stops, without holding the shutdown up', async () => {
    const open1 = await open();
    const open2 = await open(`/v2/events/_stream?eventTypes=${OTP_REMOVED}`);
    const upTo = await head();
    await open1.until((c) => c.events.at(-1)?.id === upTo, 'history');
    const started = Date.now();
    const code = await server.stop();
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 5000, `stopped in ${Date.now() - started} ms`);
    await open1.closedByServer(2000);
    await open2.closedByServer(2000);
    assert.match(server.logs(), /closing \d+ event stream\(s\) for shutdown/);
  });
});
