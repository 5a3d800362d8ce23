import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { Response, RunningServer, startServer, stopAll } from '../support/server';
import { TcpProxy } from './tcp-proxy';
import { TEST_POSTGRES_URL, TestDatabase, createTestDatabase, databaseUrl, skippedWithoutPostgres } from './test-database';

const SERVER_URL = process.env.DATABASE_URL || TEST_POSTGRES_URL;
/**
 * An HTTP suite of the PostgreSQL pass (DATABASE_URL set, as .ci/run does after npm test); the
 * pass without it has the store contracts for PostgreSQL, and need not start these servers too.
 */
const SKIP = process.env.DATABASE_URL ? null : 'runs in the PostgreSQL pass: set DATABASE_URL (see .ci/run)';

/** The contract's answer when the store is unreachable: 503, code 14, the error body shape. */
function assertUnavailable(response: Response, what: string): void {
  assert.equal(response.status, 503, `${what}: ${response.status} ${response.text}`);
  assert.equal(response.body.code, 14);
  const [detail] = response.body.details;
  assert.equal(detail['@type'], 'type.googleapis.com/zitadel.v1.ErrorDetail');
  assert.equal(response.body.message, `${detail.message} (${detail.id})`);
  assert.doesNotMatch(response.text, /ECONNREFUSED|127\.0\.0\.1|stack|at /, 'no internals in the body');
}

/** The service between it and PostgreSQL a proxy the test cuts: the machine's server stays up. */
describe('PostgreSQL outages', async () => {
  if (await skippedWithoutPostgres(SERVER_URL, SKIP)) return;

  let database: TestDatabase;
  let proxy: TcpProxy;
  let server: RunningServer;
  let sql: Client;
  let admin: string;
  const org = 'org-outage';

  before(async () => {
    database = await createTestDatabase(SERVER_URL);
    const target = new URL(database.url);
    proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
    const proxied = new URL(database.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    server = await startServer({ env: { DATABASE_URL: databaseUrl(proxied.toString(), database.name) } });
    admin = await server.token({ sub: 'admin-outage', org, roles: { IAM_OWNER: [org] } });
    sql = new Client({ connectionString: database.url });
    await sql.connect();
  });
  after(async () => {
    await stopAll();
    await proxy?.cut();
    await sql?.end();
    await database?.drop();
  });

  const createUser = (userId: string) =>
    server.request('POST', '/v2/users/human', {
      token: admin,
      body: {
        userId,
        organization: { orgId: org },
        profile: { givenName: 'Minnie', familyName: 'Mouse' },
        email: { email: `${userId}@example.com`, isVerified: true },
      },
    });
  const eventCount = async () => Number((await sql.query('SELECT count(*) AS n FROM events')).rows[0].n);
  const streamOf = async (userId: string) =>
    (await sql.query('SELECT type, revision FROM events WHERE stream_id = $1 ORDER BY revision', [`user-${userId}`])).rows as Array<{
      type: string;
      revision: number;
    }>;

  /** Polls until the service answers 200 again, and says how long that took. */
  async function servedAgain(userId: string, withinMs = 20000): Promise<number> {
    const started = Date.now();
    for (;;) {
      const response = await server.request('GET', `/v2/users/${userId}`, { token: admin });
      if (response.status === 200) return Date.now() - started;
      assertUnavailable(response, 'while PostgreSQL comes back');
      if (Date.now() - started > withinMs) assert.fail(`still ${response.status} ${withinMs} ms after PostgreSQL came back`);
      await sleep(200);
    }
  }

  it('answers 503 code 14 while PostgreSQL is away, changes nothing, and serves again when it is back', async () => {
    const userId = `outage-${randomInt(1e9)}`;
    assert.equal((await createUser(userId)).status, 200);
    assert.equal((await server.request('POST', `/v2/users/${userId}/otp_email`, { token: admin, body: {} })).status, 200);
    const before = await eventCount();

    await proxy.cut();
    const started = Date.now();
    const answers = await Promise.all([
      server.request('DELETE', `/v2/users/${userId}/otp_email`, { token: admin }),
      server.request('POST', `/v2/users/${userId}/email`, { token: admin, body: { email: 'new@example.com', isVerified: true } }),
      createUser(`outage-new-${randomInt(1e9)}`),
      server.request('GET', `/v2/users/${userId}`, { token: admin }),
      server.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token: admin }),
    ]);
    const took = Date.now() - started;
    answers.forEach((answer, i) => assertUnavailable(answer, `request ${i}`));
    assert.ok(took < 10000, `the 503s took ${took} ms`);
    // Again, now that the pool has no connection left at all.
    assertUnavailable(await server.request('DELETE', `/v2/users/${userId}/otp_email`, { token: admin }), 'a later remove');
    assert.equal(await eventCount(), before, 'nothing was written during the outage');
    // Readiness says what is down, not how: the driver's error text is for the log only.
    const readyz = await server.request('GET', '/readyz');
    assert.equal(readyz.status, 503, readyz.text);
    assert.match(readyz.body.message, /event store/);
    assert.doesNotMatch(readyz.text, /ECONNREFUSED|ECONNRESET|127\.0\.0\.1|timeout|terminated|Connection/i);

    await proxy.start();
    const back = await servedAgain(userId);
    console.log(`# served again ${back} ms after PostgreSQL came back`);
    // The service was not restarted; writes, projections and read-your-writes work as before.
    assert.equal(server.process.exitCode, null);
    const removed = await server.request('DELETE', `/v2/users/${userId}/otp_email`, { token: admin });
    assert.equal(removed.status, 200, removed.text);
    assert.equal(removed.body.details.sequence, '4');
    const read = await server.request('GET', `/v2/users/${userId}`, { token: admin });
    assert.deepEqual(read.body.details, removed.body.details);
    assert.deepEqual((await streamOf(userId)).map((e) => e.type).slice(-1), ['user.human.mfa.otp.email.removed']);
  });

  it('cut in the middle of a run of writes: 200 or 503 each, no write by halves, every 200 kept', async () => {
    const acknowledged = new Set<string>();
    const refused = new Set<string>();
    const statuses = new Map<number, number>();
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const userId = `mid-${w}-${i}-${randomInt(1e9)}`;
        let response: Response;
        try {
          response = await createUser(userId);
        } catch (error) {
          stop = true;
          throw new Error(`no HTTP answer (exit code ${server.process.exitCode}): ${String(error)}\n${server.logs().slice(-6000)}`);
        }
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status === 200) acknowledged.add(userId);
        else {
          assertUnavailable(response, `create ${userId}`);
          refused.add(userId);
          await sleep(20);
        }
      }
    };
    const writers = Promise.all(Array.from({ length: 6 }, (_, w) => writer(w)));
    let ackedBeforeBack = 0;
    try {
      await sleep(700);
      await proxy.cut();
      await sleep(2500);
      await proxy.start();
      ackedBeforeBack = acknowledged.size;
      const deadline = Date.now() + 20000;
      while (!stop && acknowledged.size < ackedBeforeBack + 20 && Date.now() < deadline) await sleep(100);
    } finally {
      stop = true;
      await writers;
    }
    console.log(`# answers by status: ${JSON.stringify(Object.fromEntries(statuses))}`);
    // Writers that committed just before the cut wait for the read models, so how many requests
    // meet the outage varies; what matters is that none gets anything but 200 or 503.
    assert.deepEqual(
      [...statuses.keys()].filter((status) => status !== 200 && status !== 503),
      [],
    );
    assert.ok(acknowledged.size >= ackedBeforeBack + 20, 'writes succeed again after the outage');

    // Every user stream holds whole appends: AddHumanUser appends its two events together.
    const { rows } = await sql.query(
      `SELECT stream_id, array_agg(type ORDER BY revision) AS types FROM events
       WHERE stream_id LIKE 'user-mid-%' GROUP BY stream_id`,
    );
    const stored = new Map(rows.map((row) => [String(row.stream_id).slice('user-'.length), row.types as string[]]));
    for (const [userId, types] of stored) {
      assert.deepEqual(types, ['user.human.added', 'user.human.email.verified'], `stream of ${userId}`);
    }
    for (const userId of acknowledged) assert.ok(stored.has(userId), `acknowledged ${userId} was kept`);
    // A 503 means "not written". A commit the cut caught in flight is the hard case: the service
    // asks PostgreSQL afterwards whether it committed (it is back within the 5 s it waits for that).
    const durableAnyway = [...refused].filter((userId) => stored.has(userId));
    assert.deepEqual(durableAnyway, [], 'writes answered 503 that were durable all the same');
    // The read models caught up with everything that was written.
    for (const userId of acknowledged) {
      const read = await server.request('GET', `/v2/users/${userId}`, { token: admin });
      assert.equal(read.status, 200, `${userId}: ${read.text}`);
    }
  });
});
