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
    // Its tests keep their streams open until the end, more than the default cap of one caller.
    server = await startServer({ env: { EVENTS_STREAM_HEARTBEAT_MS: '200', EVENTS_STREAM_MAX_PER_CALLER: '50' } });
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

  it('answers HEAD with the head of a stream at once, and holds no stream for it', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${server.url}/v2/events/_stream`, {
        method: 'HEAD',
        headers: { authorization: `Bearer ${admin}` },
        signal: AbortSignal.timeout(3000),
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.ok(response.headers.get('x-request-id'));
    }
    const anonymous = await fetch(`${server.url}/v2/events/_stream`, { method: 'HEAD', signal: AbortSignal.timeout(3000) });
    assert.equal(anonymous.status, 401);
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

describe('GET /v2/events/_stream: a stream lasts as long as its token, and streams are capped', () => {
  let server: RunningServer;
  let admin: string;
  const clients: SseClient[] = [];

  const open = async (token: string, headers: Record<string, string> = {}) => {
    const client = await SseClient.open(`${server.url}/v2/events/_stream?eventTypes=user.human.added`, {
      authorization: `Bearer ${token}`,
      ...headers,
    });
    clients.push(client);
    return client;
  };
  const createUser = async (name: string): Promise<string> => {
    const response = await server.request('POST', '/v2/users/human', {
      token: admin,
      body: { profile: { givenName: name, familyName: 'Expiring' }, email: { email: `${name}@example.com` } },
    });
    assert.equal(response.status, 200, response.text);
    return response.body.userId;
  };

  before(async () => {
    server = await startServer({ env: { EVENTS_STREAM_HEARTBEAT_MS: '200', EVENTS_STREAM_MAX_PER_CALLER: '2', EVENTS_STREAM_MAX: '3' } });
    admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await stopAll();
  });

  it('ends a stream once its token is expired beyond the skew, with a last frame to resume from without a gap', async () => {
    // Expired 57 s ago: inside the 60 s of allowed clock skew for about 3 s more.
    const shortLived = await server.token({ sub: 'watcher', org: 'org-1', roles: { IAM_OWNER: ['org-1'] }, expiresIn: '-57s' });
    const stream = await open(shortLived);
    assert.equal(stream.status, 200);
    const before = await createUser('before-expiry');
    await stream.until((c) => c.events.some((e) => e.data.aggregateId === before), 'the event before expiry');
    await stream.closedByServer(6000);
    const last = stream.events.at(-1)!;
    assert.equal(last.event, 'token-expired');
    assert.equal(last.data.code, 16);
    assert.match(last.data.message, /reconnect with a fresh one/);
    const rest = await server.request('GET', `/v2/users/${before}`, { token: shortLived });
    assert.equal(rest.status, 401, 'REST refuses the token too');

    const after = await createUser('after-expiry');
    const fresh = await server.token({ sub: 'watcher', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    const resumed = await open(fresh, { 'Last-Event-ID': last.id });
    await resumed.until((c) => c.events.some((e) => e.data.aggregateId === after), 'the event after expiry');
    assert.deepEqual(
      resumed.events.map((e) => e.data.aggregateId),
      [after],
      'the resumed stream starts right after the expired one: nothing twice, nothing missed',
    );
    await resumed.close();
  });

  it('answers 429 code 8 over EVENTS_STREAM_MAX_PER_CALLER for one caller and over EVENTS_STREAM_MAX in all', async () => {
    const mine = [await open(admin), await open(admin)];
    assert.deepEqual(mine.map((c) => c.status), [200, 200]);
    const third = await open(admin);
    assert.equal(third.status, 429);
    assert.equal(third.errorBody.code, 8);
    assert.match(third.errorBody.message, /EVENTS_STREAM_MAX_PER_CALLER/);

    const other = await server.token({ sub: 'admin-2', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    assert.equal((await open(other)).status, 200);
    const overAll = await open(other);
    assert.equal(overAll.status, 429);
    assert.match(overAll.errorBody.message, /EVENTS_STREAM_MAX\b/);

    // A closed stream frees its place.
    await mine[0].close();
    const again = await waitFor(async () => {
      const client = await open(admin);
      return client.status === 200 ? client : undefined;
    });
    assert.equal(again.status, 200);
  });

  it('writes a log line for each stream when it ends', async () => {
    const lines = server
      .logs()
      .split('\n')
      .filter((line) => line.includes('"route":"/v2/events/_stream"') && line.includes('request completed'));
    assert.ok(lines.length >= 2, `stream log lines: ${lines.length}\n${server.logs().slice(-3000)}`);
    const metrics = (await server.request('GET', '/metrics')).text;
    const streams = metrics.match(/^http_requests_total\{method="GET",route="\/v2\/events\/_stream",status="200"\} (\d+)$/m);
    assert.ok(streams && Number(streams[1]) >= 2, `the ended streams in /metrics:\n${metrics.slice(0, 3000)}`);
  });
});

/** Tries `attempt` until it gives a value (the server frees a stream once it sees the close), for up to 5 s. */
async function waitFor<T>(attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('gave up after 5 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
