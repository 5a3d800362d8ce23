import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { after, before, describe, it } from 'node:test';
import { RunningServer, startServer, stopAll } from '../support/server';
import {
  EMBEDDED_STORE,
  EMBEDDED_STORE_PASS_ONLY,
  assertContractError,
  jsonLines,
  metricValue,
  openEventsReadOnly,
} from './support/ops';

describe('operations endpoints on a fresh start', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer();
  });
  after(stopAll);

  it('serves /openapi.json, /docs, /healthz, /readyz and /metrics without a token', async () => {
    const openapi = await server.request('GET', '/openapi.json');
    assert.equal(openapi.status, 200, openapi.text);
    assert.match(openapi.body.openapi, /^3\./);
    assert.ok(openapi.body.paths['/v2/users/{userId}/otp_email'].delete);

    const docs = await server.request('GET', '/docs');
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get('content-type') ?? '', /^text\/html/);
    const script = /src="\.\/docs\/(swagger-ui-bundle\.js)"/.exec(docs.text)?.[1];
    assert.ok(script, 'the page loads Swagger UI');
    assert.equal((await server.request('GET', `/docs/${script}`)).status, 200);
    const init = await server.request('GET', '/docs/swagger-ui-init.js');
    assert.equal(init.status, 200);
    assert.match(init.text, /RemoveOTPEmail/);

    const healthz = await server.request('GET', '/healthz');
    assert.equal(healthz.status, 200, healthz.text);
    assert.equal(healthz.body.status, 'ok');

    const readyz = await server.request('GET', '/readyz');
    assert.equal(readyz.status, 200, readyz.text);
    assert.equal(readyz.body.status, 'ok');
    assert.equal(readyz.body.details.eventStore.status, 'up');
    assert.equal(readyz.body.details.projections.status, 'up');
    assert.equal(readyz.body.details.projections.users.lag, 0);

    const metrics = await server.request('GET', '/metrics');
    assert.equal(metrics.status, 200, metrics.text);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    for (const family of [
      'http_requests_total',
      'http_request_duration_seconds',
      'mfa_commands_total',
      'mfa_command_conflicts_total',
      'mfa_command_retries_total',
      'mfa_event_store_appends_total',
      'mfa_projection_position',
      'mfa_projection_lag_events',
      'mfa_subscription_lag_events',
      'mfa_subscription_failed',
      'process_cpu_seconds_total',
    ]) {
      assert.match(metrics.text, new RegExp(`^# TYPE ${family} `, 'm'), `/metrics lacks ${family}`);
    }
    // Every subscription that follows the log has its lag, as every projection has.
    assert.match(metrics.text, /^mfa_subscription_lag_events\{subscription="security_notifications"\} \d+$/m);
    assert.equal(metricValue(metrics.text, 'http_requests_total{method="GET",route="/healthz",status="200"}'), 1);
  });

  it('sends security headers', async () => {
    const response = await server.request('GET', '/v2/users/1');
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(response.headers.get('content-security-policy'));
    assert.ok(response.headers.get('strict-transport-security'));
    assert.equal(response.headers.get('x-frame-options'), 'SAMEORIGIN');
  });
});

describe('metrics and logs of API requests', EMBEDDED_STORE_PASS_ONLY, () => {
  let server: RunningServer;
  let admin: string;
  const email = 'minnie.metrics@example.com';
  before(async () => {
    server = await startServer({ env: EMBEDDED_STORE });
    admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
  });
  after(stopAll);

  it('counts requests by route and status, commands by outcome, appends and projection positions', async () => {
    const created = await server.request('POST', '/v2/users/human', {
      token: admin,
      body: { profile: { givenName: 'Minnie', familyName: 'Mouse' }, email: { email, isVerified: true } },
    });
    assert.equal(created.status, 200, created.text);
    const userId = created.body.userId as string;
    assert.equal((await server.request('POST', `/v2/users/${userId}/otp_email`, { token: admin, body: {} })).status, 200);
    const missing = await server.request('DELETE', '/v2/users/no-such-user/otp_email', { token: admin });
    assert.equal(missing.status, 404);
    assert.equal((await server.request('GET', `/v2/users/${userId}`)).status, 401);

    const text = (await server.request('GET', '/metrics')).text;
    const count = (series: string) => metricValue(text, series) ?? 0;
    assert.equal(count('http_requests_total{method="POST",route="/v2/users/human",status="200"}'), 1);
    assert.equal(count('http_requests_total{method="POST",route="/v2/users/:userId/otp_email",status="200"}'), 1);
    assert.equal(count('http_requests_total{method="DELETE",route="/v2/users/:userId/otp_email",status="404"}'), 1);
    assert.equal(count('http_requests_total{method="GET",route="/v2/users/:userId",status="401"}'), 1);
    assert.equal(count('http_request_duration_seconds_count{method="POST",route="/v2/users/human",status="200"}'), 1);
    assert.equal(count('mfa_commands_total{outcome="ok",code=""}'), 2);
    assert.equal(count('mfa_commands_total{outcome="rejected",code="NOT_FOUND"}'), 1);
    assert.equal(count('mfa_event_store_appends_total'), 2);
    // AddHumanUser with isVerified appends two events, AddOTPEmail one.
    assert.equal(count('mfa_events_appended_total'), 3);

    const db = openEventsReadOnly(server.dataDir);
    const head = (db.prepare('SELECT MAX(position) AS head FROM events').get() as { head: number }).head;
    db.close();
    assert.equal(count('mfa_event_store_head_position'), head);
    assert.equal(count('mfa_projection_position{projection="users"}'), head);
    assert.equal(count('mfa_projection_lag_events{projection="users"}'), 0);
    assert.equal(count('mfa_projection_failed{projection="users"}'), 0);
  });

  it('logs one JSON line a request, whose request id is the correlation id of the events it appended, and no token or email', async () => {
    const requestId = `ops-log-test-${Date.now()}`;
    const created = await server.request('POST', '/v2/users/human', {
      token: admin,
      headers: { 'x-request-id': requestId },
      body: { profile: { givenName: 'Log', familyName: 'Line' }, email: { email: 'log.line@example.com' } },
    });
    assert.equal(created.status, 200, created.text);
    const bad = await server.request('GET', `/v2/users/${encodeURIComponent('who@example.com')}?access_token=${admin}`, {
      headers: { authorization: `Bearer ${admin}x` },
    });
    assert.equal(bad.status, 401);
    // The line is written once the answer is sent; give the server a moment to get it out.
    await new Promise((done) => setTimeout(done, 200));

    const output = server.logs();
    const lines = output.split('\n').filter((line) => line.trim() !== '');
    const notJson = lines.filter((line) => !line.startsWith('{') && !/Warning|--trace-warnings/.test(line));
    assert.deepEqual(notJson, [], 'every log line is JSON');
    const entries = jsonLines(output);
    assert.ok(entries.some((e) => /mfa-service listening on http:\/\/[^:]+:\d+/.test(e.msg)), 'the listening line');

    const ofRequest = entries.filter((e) => e.reqId === requestId && e.msg === 'request completed');
    assert.equal(ofRequest.length, 1, 'one line for the request');
    assert.deepEqual(
      { method: ofRequest[0].method, route: ofRequest[0].route, statusCode: ofRequest[0].statusCode },
      { method: 'POST', route: '/v2/users/human', statusCode: 200 },
    );
    assert.equal(typeof ofRequest[0].responseTimeMs, 'number');

    const db = new Database(join(server.dataDir, 'events.sqlite'), { readonly: true });
    const metadata = db
      .prepare("SELECT metadata FROM events WHERE stream_id = ?")
      .all(`user-${created.body.userId}`) as Array<{ metadata: string }>;
    db.close();
    assert.ok(metadata.length > 0);
    for (const row of metadata) assert.equal(JSON.parse(row.metadata).correlationId, requestId);

    const requestLines = entries.filter((e) => e.msg === 'request completed');
    // This suite made 7 requests: 5 in the test above, 2 here.
    assert.equal(requestLines.length, 7, 'one line for each request');
    const badLine = requestLines.find((e) => e.statusCode === 401 && e.route === '/v2/users/:userId' && e.path?.includes('redacted'));
    assert.ok(badLine, 'the 401 is logged with the email in its path blotted out');
    for (const secret of [admin, admin.split('.')[1], email, 'log.line@example.com', 'who@example.com', 'who%40example.com']) {
      assert.ok(!output.includes(secret), `the logs contain ${secret.slice(0, 20)}…`);
    }
  });
});

describe('readiness', EMBEDDED_STORE_PASS_ONLY, () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ env: { ...EMBEDDED_STORE, READY_MAX_LAG_EVENTS: '0' } });
  });
  after(stopAll);

  it('answers 503 in the contract shape, naming the projection, when a projection cannot keep up with the log', async () => {
    assert.equal((await server.request('GET', '/readyz')).status, 200);
    // An event no projection can apply (a user.human.added without payload), written behind the
    // service's back: the users projection is behind it, then stops on it.
    const db = new Database(join(server.dataDir, 'events.sqlite'));
    db.prepare(
      `INSERT INTO events (stream_id, revision, event_id, type, data, metadata, created_at)
       VALUES ('user-poison', 0, 'poison-event', 'user.human.added', NULL, ?, ?)`,
    ).run(JSON.stringify({ resourceOwner: 'org-1', creator: 'ops-test', correlationId: 'ops-test' }), Date.now());
    db.close();

    const readyz = await server.request('GET', '/readyz', { headers: { 'x-request-id': 'readiness-probe-1' } });
    assert.equal(readyz.status, 503, readyz.text);
    assertContractError(readyz);
    assert.equal(readyz.body.code, 14);
    assert.match(readyz.body.message, /^not ready: .*projection users /);
    assert.doesNotMatch(readyz.text, /TypeError|Cannot read|null|stack/, 'the error text is for the log only');
    // Liveness is not readiness: the process is fine.
    assert.equal((await server.request('GET', '/healthz')).status, 200);
    const metrics = (await server.request('GET', '/metrics')).text;
    const lag = metricValue(metrics, 'mfa_projection_lag_events{projection="users"}') ?? 0;
    const failed = metricValue(metrics, 'mfa_projection_failed{projection="users"}') ?? 0;
    assert.ok(lag > 0 || failed === 1, `metrics show neither lag nor failure:\n${metrics}`);
    // Logged once, inside the probe's request: with its request id.
    const warnings = jsonLines(server.logs()).filter((e) => e.context === 'Health' && e.level === 'warn');
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0].reqId, 'readiness-probe-1');
    assert.match(warnings[0].msg, /^not ready: /);
  });
});
