import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { jsonLines, metricValue } from '../ops/support/ops';
import { RunningServer, startServer, stopAll } from '../support/server';
import { GET_USER, call, envelope, getUserRequest, openSession } from './support/raw-grpc';

/** Resolves how long after it was made a TCP connection that sends nothing was closed by the server. */
function idleTcpLifetime(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connectTcp(port, '127.0.0.1');
    socket.on('data', () => undefined);
    socket.on('close', () => resolve(Date.now() - started));
    socket.on('error', () => undefined);
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept an idle TCP connection open for 10 s'));
    }, 10_000).unref();
  });
}

/** A zitadel.v1.ErrorDetail as the Connect protocol writes it in JSON: base64 of its protobuf bytes. */
function connectDetail(id: string, message: string): string {
  const field = (tag: number, text: string) => Buffer.concat([Buffer.from([tag, Buffer.byteLength(text)]), Buffer.from(text)]);
  return Buffer.concat([field(0x0a, id), field(0x12, message)]).toString('base64').replace(/=+$/, '');
}

describe('the gRPC port keeps the protections of the HTTP port', () => {
  let server: RunningServer;
  let admin: string;
  let userId: string;

  before(async () => {
    server = await startServer({
      env: {
        HTTP_REQUEST_TIMEOUT_MS: '1500',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000',
        HTTP_CONNECTION_TIMEOUT_MS: '3000',
        GRPC_MAX_CONCURRENT_STREAMS: '16',
      },
    });
    admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    const created = await server.request('POST', '/v2/users/human', {
      token: admin,
      body: { profile: { givenName: 'Grpc', familyName: 'Port' }, email: { email: 'grpc.port@example.com' } },
    });
    assert.equal(created.status, 200, created.text);
    userId = created.body.userId;
  });
  after(stopAll);

  it('answers a call without a token UNAUTHENTICATED from its headers alone, before any body is sent', async () => {
    const session = await openSession(server.grpcUrl);
    try {
      const answer = await call(session, {}, 'never');
      assert.equal(answer.grpcStatus, 16);
      assert.equal(answer.grpcMessage, 'auth header missing (AUTH-7fs1e)');
      assert.ok(answer.trailersOnly, 'a trailers-only answer');
      assert.ok(answer.ms < 1000, `answered in ${answer.ms} ms, not at the request timeout`);
      const badToken = await call(session, { authorization: 'Bearer nope' }, 'never');
      assert.equal(badToken.grpcStatus, 16);
    } finally {
      session.close();
    }
  });

  it('answers a malformed message without a token UNAUTHENTICATED, not INVALID_ARGUMENT or INTERNAL', async () => {
    const session = await openSession(server.grpcUrl);
    try {
      for (const body of [Buffer.from([0, 0, 0, 0, 9, 0xff, 0xff]), envelope(Buffer.from([0xff, 0xff, 0xff])), Buffer.from('garbage')]) {
        assert.equal((await call(session, {}, body)).grpcStatus, 16);
      }
      // With a token the same bytes are a bad request.
      assert.equal((await call(session, { authorization: `Bearer ${admin}` }, envelope(Buffer.from([0xff, 0xff, 0xff])))).grpcStatus, 3);
    } finally {
      session.close();
    }
  });

  it('answers Connect and gRPC-web on the HTTP port the same way: no token, UNAUTHENTICATED, whatever the body', async () => {
    for (const body of [Buffer.from('{"userId":'), Buffer.from([0xff, 0xff, 0xff])]) {
      const connect = await fetch(`${server.url}${GET_USER}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(connect.status, 401);
      const error = (await connect.json()) as { code: string; message: string; details: Array<{ type: string; value: string }> };
      assert.deepEqual(
        { code: error.code, message: error.message, detail: { type: error.details[0]?.type, value: error.details[0]?.value } },
        {
          code: 'unauthenticated',
          message: 'auth header missing (AUTH-7fs1e)',
          detail: { type: 'zitadel.v1.ErrorDetail', value: connectDetail('AUTH-7fs1e', 'auth header missing') },
        },
      );
      const web = await fetch(`${server.url}${GET_USER}`, { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto' }, body });
      assert.equal(web.status, 200);
      assert.equal(web.headers.get('grpc-status'), '16');
    }
  });

  it('serves a well-made call, and answers one whose body never comes DEADLINE_EXCEEDED after HTTP_REQUEST_TIMEOUT_MS', async () => {
    const session = await openSession(server.grpcUrl);
    try {
      assert.equal((await call(session, { authorization: `Bearer ${admin}` }, getUserRequest(userId))).grpcStatus, 0);
      const stalled = await call(session, { authorization: `Bearer ${admin}` }, 'never');
      assert.equal(stalled.grpcStatus, 4);
      assert.match(stalled.grpcMessage ?? '', /HTTP_REQUEST_TIMEOUT_MS/);
      assert.ok(stalled.ms >= 1400 && stalled.ms < 5000, `answered after ${stalled.ms} ms`);
    } finally {
      session.close();
    }
  });

  it('bounds the calls of one connection (GRPC_MAX_CONCURRENT_STREAMS)', async () => {
    const session = await openSession(server.grpcUrl);
    try {
      await new Promise((resolve) => (session.remoteSettings.maxConcurrentStreams === 16 ? resolve(null) : session.once('remoteSettings', resolve)));
      assert.equal(session.remoteSettings.maxConcurrentStreams, 16);
    } finally {
      session.close();
    }
  });

  it('closes a TCP connection that never speaks HTTP/2, and an HTTP/2 connection without calls, after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
    const tcp = await idleTcpLifetime(server.grpcPort);
    assert.ok(tcp >= 900 && tcp < 4000, `idle TCP connection closed after ${tcp} ms`);

    const session = await openSession(server.grpcUrl);
    const started = Date.now();
    // Pings are traffic, but not a call: they do not keep the connection open.
    const pinger = setInterval(() => !session.closed && !session.destroyed && session.ping(() => undefined), 200);
    try {
      await new Promise<void>((resolve, reject) => {
        session.once('close', () => resolve());
        setTimeout(() => reject(new Error('the server kept an HTTP/2 connection without calls open for 10 s')), 10_000).unref();
      });
    } finally {
      clearInterval(pinger);
      session.destroy();
    }
    const lifetime = Date.now() - started;
    assert.ok(lifetime >= 900 && lifetime < 4000, `HTTP/2 connection without calls closed after ${lifetime} ms`);
  });

  it('writes a log line and the metrics of every call, with its gRPC status and its reason when refused', async () => {
    const session = await openSession(server.grpcUrl);
    try {
      await call(session, { authorization: `Bearer ${admin}`, 'x-request-id': 'grpc-logged-1' }, getUserRequest(userId));
      await call(session, { authorization: 'Bearer expired.or.forged', 'x-request-id': 'grpc-logged-2' }, getUserRequest(userId));
    } finally {
      session.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const lines = jsonLines(server.logs()).filter((line) => line.msg === 'request completed');
    const ok = lines.find((line) => line.reqId === 'grpc-logged-1');
    assert.ok(ok, `no log line for the call:\n${server.logs().slice(-3000)}`);
    assert.equal(ok.route, GET_USER);
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.grpcStatus, 0);
    assert.ok(!server.logs().includes(userId + '@') && !server.logs().includes(admin), 'no token in the logs');
    const refused = lines.find((line) => line.reqId === 'grpc-logged-2');
    assert.ok(refused);
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.grpcStatus, 16);
    assert.match(refused.failure, /\S/, 'says why the token was refused');
    const metrics = (await server.request('GET', '/metrics')).text;
    assert.ok((metricValue(metrics, `http_requests_total{method="POST",route="${GET_USER}",status="200"}`) ?? 0) >= 1, metrics.slice(0, 2000));
    assert.ok((metricValue(metrics, `http_requests_total{method="POST",route="${GET_USER}",status="401"}`) ?? 0) >= 1);
  });
});

describe('the rate limit on the gRPC port (RATE_LIMIT_PER_MINUTE)', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ env: { RATE_LIMIT_PER_MINUTE: '3' } });
  });
  after(stopAll);

  it('limits each caller, by token subject or else by address, and answers RESOURCE_EXHAUSTED', async () => {
    const alice = await server.token({ sub: 'alice', org: 'org-1' });
    const bob = await server.token({ sub: 'bob', org: 'org-1' });
    const session = await openSession(server.grpcUrl);
    try {
      const statuses: Array<number | undefined> = [];
      for (let i = 0; i < 4; i++) statuses.push((await call(session, { authorization: `Bearer ${alice}` }, getUserRequest('alice'))).grpcStatus);
      assert.equal(statuses.at(-1), 8, `alice's fourth call: ${statuses.join(', ')}`);
      assert.ok(statuses.slice(0, 3).every((status) => status !== 8), statuses.join(', '));
      const limited = await call(session, { authorization: `Bearer ${alice}` }, getUserRequest('alice'));
      assert.equal(limited.grpcMessage, 'too many requests; slow down');
      assert.notEqual((await call(session, { authorization: `Bearer ${bob}` }, getUserRequest('bob'))).grpcStatus, 8, 'bob has his own limit');

      const anonymous: Array<number | undefined> = [];
      for (let i = 0; i < 4; i++) anonymous.push((await call(session, {}, 'never')).grpcStatus);
      assert.deepEqual(anonymous, [16, 16, 16, 8]);
    } finally {
      session.close();
    }
  });
});
