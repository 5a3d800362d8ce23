import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { loadOrCreateDevKey } from '../../src/auth/dev-signing-key';
import { USER_PROJECTIONS as ALL_PROJECTIONS } from '../../src/users/read-models/user.projections';
import { viewKeyOf } from '../../src/event-store/read-model.port';
import { Response, RunningServer, startServer, stopAll } from '../support/server';
import { TEST_POSTGRES_URL, TestDatabase, createTestDatabase, skippedWithoutPostgres } from './test-database';

const SERVER_URL = process.env.DATABASE_URL || TEST_POSTGRES_URL;
/**
 * An HTTP suite of the PostgreSQL pass (DATABASE_URL set, as .ci/run does after npm test); the
 * pass without it has the store contracts for PostgreSQL, and need not start these servers too.
 */
const SKIP = process.env.DATABASE_URL ? null : 'runs in the PostgreSQL pass: set DATABASE_URL (see .ci/run)';
const RACES = 20;
const RACERS = 12;

/** Two service processes on one PostgreSQL database, as two replicas behind a load balancer. */
describe('several instances on one PostgreSQL database', async () => {
  if (await skippedWithoutPostgres(SERVER_URL, SKIP)) return;

  let database: TestDatabase;
  let sql: Client;
  let a: RunningServer;
  let b: RunningServer;
  let admin: string;
  const org = `org-multi-${Date.now()}`;

  before(async () => {
    database = await createTestDatabase(SERVER_URL);
    // One data folder with one development key, so both accept the same tokens; the data is in
    // PostgreSQL. Both start at once, so they migrate the empty database concurrently.
    const dataDir = mkdtempSync(join(tmpdir(), 'mfa-test-'));
    await loadOrCreateDevKey(dataDir);
    [a, b] = await Promise.all([0, 1].map(() => startServer({ dataDir, env: { DATABASE_URL: database.url } })));
    admin = await a.token({ sub: 'admin-multi', org, roles: { IAM_OWNER: [org] } });
    sql = new Client({ connectionString: database.url });
    await sql.connect();
  });
  after(async () => {
    await sql?.end();
    await stopAll();
    await database?.drop();
  });

  const ok = async (response: Promise<Response>) => {
    const answered = await response;
    assert.equal(answered.status, 200, answered.text);
    return answered.body;
  };

  async function userWithOtpEmail(on: RunningServer, other: RunningServer): Promise<string> {
    const created = await ok(
      on.request('POST', '/v2/users/human', {
        token: admin,
        body: {
          organization: { orgId: org },
          profile: { givenName: 'Minnie', familyName: 'Mouse' },
          email: { email: `minnie-${Math.random().toString(36).slice(2)}@example.com`, isVerified: true },
        },
      }),
    );
    // The factor is added through the other instance, which must see the user at once.
    await ok(other.request('POST', `/v2/users/${created.userId}/otp_email`, { token: admin, body: {} }));
    return created.userId as string;
  }

  it('starts both instances at once on one schema, each migration applied once', async () => {
    const { rows } = await sql.query('SELECT component, version FROM schema_migrations ORDER BY component, version');
    assert.deepEqual(
      rows.map((row) => `${row.component} ${row.version}`),
      ['event_store 1', 'read_models 1', 'read_models 2'],
    );
  });

  it(`${RACES} races of ${RACERS} concurrent RemoveOTPEmail over both instances: one 200 each, one event`, async () => {
    for (let race = 0; race < RACES; race++) {
      const userId = await userWithOtpEmail(race % 2 ? a : b, race % 2 ? b : a);
      const responses = await Promise.all(
        Array.from({ length: RACERS }, (_, i) =>
          (i % 2 ? a : b).request('DELETE', `/v2/users/${userId}/otp_email`, { token: admin }),
        ),
      );
      const summary = responses.map((r) => `${r.status} ${r.text}`).join('\n');
      const winners = responses.filter((r) => r.status === 200);
      assert.equal(winners.length, 1, `race ${race}:\n${summary}`);
      assert.equal(winners[0].body.details.sequence, '4');
      for (const loser of responses.filter((r) => r.status !== 200)) {
        assert.equal(loser.status, 404, summary);
        assert.equal(loser.body.code, 5);
        assert.equal(loser.body.details[0].id, 'COMMAND-b312D', summary);
      }
      const { rows } = await sql.query(
        `SELECT type, revision FROM events WHERE stream_id = $1 ORDER BY revision`,
        [`user-${userId}`],
      );
      assert.deepEqual(
        rows.filter((row) => row.type === 'user.human.mfa.otp.email.removed').map((row) => row.revision),
        [3],
        `race ${race}: exactly one removed event`,
      );
      assert.equal(rows.length, 4);
    }
  });

  it('shows a write made on one instance in a read on the other at once', async () => {
    for (let i = 0; i < 10; i++) {
      const [writer, reader] = i % 2 ? [a, b] : [b, a];
      const userId = await userWithOtpEmail(writer, reader);
      // No sleep between the write on one instance and the read on the other.
      const factors = await ok(
        reader.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token: admin }),
      );
      assert.deepEqual(factors, { result: [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }] });
      const removed = await ok(writer.request('DELETE', `/v2/users/${userId}/otp_email`, { token: admin }));
      const read = await ok(reader.request('GET', `/v2/users/${userId}`, { token: admin }));
      assert.deepEqual(read.details, removed.details);
      assert.deepEqual(
        await ok(reader.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token: admin })),
        {},
      );
      await ok(reader.request('DELETE', `/v2/users/${userId}`, { token: admin }));
      const gone = await writer.request('GET', `/v2/users/${userId}`, { token: admin });
      assert.equal(gone.status, 404, gone.text);
    }
  });

  it('applied every event once to the shared read models, and no write waited out its read models', async () => {
    // The views that writes wait for (read-your-writes); subscribers' checkpoints may trail.
    const views = ALL_PROJECTIONS.map((projection) => viewKeyOf(projection));
    const { rows } = await sql.query('SELECT view, position FROM projection_checkpoints WHERE view = ANY($1)', [views]);
    const { rows: head } = await sql.query('SELECT max(position) AS head FROM events');
    assert.equal(rows.length, views.length);
    for (const row of rows) assert.equal(Number(row.position), Number(head[0].head), `checkpoint of ${row.view}`);
    for (const server of [a, b]) {
      assert.doesNotMatch(server.logs(), /did not reach position/, 'a write answered before its read models had it');
    }
  });
});
