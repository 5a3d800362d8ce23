import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RunningServer, startServer, stopAll } from '../support/server';
import { DRAIN_LIMIT_BYTES } from '../../src/http-edge/http-edge';
import { assertContractError } from './support/ops';

describe('rate limit per caller (RATE_LIMIT_PER_MINUTE)', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ env: { RATE_LIMIT_PER_MINUTE: '5' } });
  });
  after(stopAll);

  it("limits each token's subject on its own and answers 429 code 8 in the contract's shape", async () => {
    const alice = await server.token({ sub: 'alice', org: 'org-1' });
    // Another token of the same subject counts against the same limit.
    const aliceAgain = await server.token({ sub: 'alice', org: 'org-1', expiresIn: '2h' });
    const bob = await server.token({ sub: 'bob', org: 'org-1' });
    for (let i = 0; i < 3; i++) assert.notEqual((await server.request('GET', '/v2/users/alice', { token: alice })).status, 429);
    for (let i = 0; i < 2; i++) assert.notEqual((await server.request('GET', '/v2/users/alice', { token: aliceAgain })).status, 429);
    const limited = await server.request('GET', '/v2/users/alice', { token: alice });
    assert.equal(limited.status, 429, limited.text);
    assertContractError(limited);
    assert.equal(limited.body.code, 8);
    assert.ok(Number(limited.headers.get('retry-after')) > 0, 'Retry-After tells when to come back');
    assert.notEqual((await server.request('GET', '/v2/users/bob', { token: bob })).status, 429, 'bob has his own limit');
  });

  it('limits callers without a valid token by their address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await server.request('GET', '/v2/users/x', { headers: { authorization: 'Bearer not-a-token' } })).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
  });

  it('never limits the probes and the metrics', async () => {
    for (let i = 0; i < 8; i++) {
      assert.equal((await server.request('GET', '/healthz')).status, 200);
      assert.equal((await server.request('GET', '/metrics')).status, 200);
    }
  });
});

describe('body size limit and slow clients', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ env: { BODY_LIMIT_BYTES: '2048', HTTP_REQUEST_TIMEOUT_MS: '1000' } });
  });
  after(stopAll);

  it('refuses a body over BODY_LIMIT_BYTES with 400 code 3, and takes one under it', async () => {
    const admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    const body = (size: number) => ({
      profile: { givenName: 'Big', familyName: 'Body' },
      email: { email: 'big.body@example.com' },
      padding: 'x'.repeat(size),
    });
    const tooLarge = await server.request('POST', '/v2/users/human', { token: admin, body: body(3000) });
    assert.equal(tooLarge.status, 400, tooLarge.text);
    assertContractError(tooLarge);
    assert.match(tooLarge.body.message, /too large/);
    const fits = await server.request('POST', '/v2/users/human', { token: admin, body: body(1000) });
    assert.equal(fits.status, 200, fits.text);
  });

  it('checks the token before the size of a body and the encoding of a path, as the contract orders the checks', async () => {
    const admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    const large = JSON.stringify({ padding: 'x'.repeat(3000) });
    // With a Content-Length, and chunked (a stream of unknown length) as well.
    const bodies = { sized: () => large, chunked: () => new Blob([large]).stream() };
    for (const [how, body] of Object.entries(bodies)) {
      const post = (headers: Record<string, string>) =>
        fetch(`${server.url}/v2/users/human`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body(), duplex: 'half' } as RequestInit);
      assert.equal((await post({})).status, 401, how);
      assert.equal((await post({ authorization: `Bearer ${admin}` })).status, 400, how);
    }
    const badPath = await server.request('GET', '/v2/users/%zz');
    assert.equal(badPath.status, 401, badPath.text);
    // Answered by the router before any hook runs, with the headers every other answer has.
    assert.equal(badPath.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(badPath.headers.get('content-security-policy'), 'a Content-Security-Policy');
    // The log line is written once the answer is sent: give the server's output a moment to arrive.
    const logged = /"path":"\/v2\/users\/%zz","statusCode":401,[^\n]*"failure":"auth header missing"/;
    for (let i = 0; i < 40 && !logged.test(server.logs()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(server.logs(), logged);
    const badPathWithToken = await server.request('GET', '/v2/users/%zz', { token: admin });
    assert.equal(badPathWithToken.status, 400, badPathWithToken.text);
    assertContractError(badPathWithToken);
    // Outside the API no token is asked for.
    assert.equal((await server.request('GET', '/healthz%zz')).status, 400);
  });

  it('refuses a body nested too deeply with 400 code 3, after the token is checked', async () => {
    const admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    const deep = '{"profile":' + '{"a":'.repeat(300) + '1' + '}'.repeat(300) + '}';
    const withToken = await server.request('POST', '/v2/users/human', { token: admin, rawBody: deep });
    assert.equal(withToken.status, 400, withToken.text);
    assertContractError(withToken);
    assert.match(withToken.body.message, /nest deeper than \d+ levels/);
    const withoutToken = await server.request('POST', '/v2/users/x/authentication_factors/_search', { rawBody: deep });
    assert.equal(withoutToken.status, 401, withoutToken.text);
  });

  it('answers a client that does not finish its request within HTTP_REQUEST_TIMEOUT_MS with 408, and closes', async () => {
    const admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    const started = Date.now();
    // Headers that promise a body that never comes (with a token: without one, the answer is 401 at once).
    const answer = await rawExchange(
      server.port,
      `POST /v2/users/human HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
    );
    const elapsed = Date.now() - started;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.ok(elapsed >= 900 && elapsed < 5000, `closed after ${elapsed} ms`);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    assert.deepEqual(Object.keys(body).sort(), ['code', 'message']);
    assert.equal(body.code, 4);
  });

  it('reads at most DRAIN_LIMIT_BYTES of a body it refused before reading it, whatever the client sends', async () => {
    const admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    const heads: Array<[string, string]> = [
      ['chunked, without a token (401)', 'Transfer-Encoding: chunked'],
      ['chunked, too large with a token (400)', `Transfer-Encoding: chunked\r\nAuthorization: Bearer ${admin}`],
      ['a declared 200 MB, without a token (401)', `Content-Length: ${200 * 1024 * 1024}`],
    ];
    for (const [what, head] of heads) {
      const { answer, sent } = await pushBody(server.port, `POST /v2/users/human HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${head}\r\n\r\n`, head.includes('chunked'));
      assert.match(answer, /^HTTP\/1\.1 40[01] /, what);
      // The limit counts from the answer on; what arrived while the answer was being made comes on top.
      assert.ok(sent <= DRAIN_LIMIT_BYTES + 32 * 1024 * 1024, `${what}: the server took ${sent} bytes`);
    }
  });

  it("answers malformed HTTP with 400 in the contract's shape, and closes", async () => {
    const answer = await rawExchange(server.port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    assert.deepEqual(body, { code: 3, message: 'malformed HTTP request' });
  });
});

/** Writes `text` on a new connection and resolves everything the server sent until it closed. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error(`the server did not close the connection within 10 s; got ${JSON.stringify(received)}`));
    });
  });
}

/**
 * Sends `head`, then body bytes for as long as the server takes them (up to 100 MB), and resolves
 * what the server answered and how much it took before it closed the connection.
 */
function pushBody(port: number, head: string, chunked: boolean): Promise<{ answer: string; sent: number }> {
  const piece = Buffer.alloc(64 * 1024, 'x');
  const frame = chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece;
  return new Promise((resolve, reject) => {
    let answer = '';
    let sent = 0;
    let closed = false;
    const socket = connect(port, '127.0.0.1', async () => {
      socket.write(head);
      while (!closed && sent < 100 * 1024 * 1024) {
        sent += piece.length;
        if (!socket.write(frame)) {
          await new Promise<void>((drained) => {
            const done = () => {
              socket.off('drain', done).off('close', done);
              drained();
            };
            socket.on('drain', done).on('close', done);
          });
        }
      }
      if (!closed) reject(new Error(`the server took ${sent} bytes and went on reading`));
      socket.destroy();
    });
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('close', () => {
      closed = true;
      resolve({ answer, sent });
    });
    socket.on('error', () => undefined);
  });
}
