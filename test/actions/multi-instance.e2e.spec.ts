import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateDevKey } from '../../src/auth/dev-signing-key';
import { FAST_RETRIES, addOtpEmail, addUser, createTarget, removeOtpEmail, setExecution } from './support/actions';
import { Receiver } from './support/receiver';
import { RunningServer, startServer, stopAll } from '../support/server';

const USERS = 12;
const SENDER_LINE = 'this instance sends the Actions deliveries';
// With EventStoreDB, instances share the sending only through a shared outbox, and SQLite read
// models are not for several instances (README, "EventStoreDB"): the other two passes cover it.
const SKIP = process.env.EVENTSTORE_CONNECTION_STRING ? 'runs in the SQLite and PostgreSQL passes' : false;

/**
 * Two service processes on one store: on PostgreSQL (the PostgreSQL pass) the lease is an
 * advisory lock, on the embedded store (npm test) a lock on DATA_DIR/actions.lease. Either way one
 * of them sends, each event once.
 */
describe('Actions deliveries with two instances on one store', { skip: SKIP }, () => {
  const org = `org-actions-multi-${Date.now()}`;
  const receiver = new Receiver();
  let a: RunningServer;
  let b: RunningServer;
  let admin: string;

  before(async () => {
    await receiver.start();
    const dataDir = mkdtempSync(join(tmpdir(), 'mfa-test-'));
    await loadOrCreateDevKey(dataDir);
    // One data folder: in the PostgreSQL pass, one database too (test/support/server.ts).
    a = await startServer({ dataDir, env: FAST_RETRIES });
    b = await startServer({ dataDir, env: FAST_RETRIES });
    admin = await a.token({ sub: 'admin-actions-multi', org, roles: { IAM_OWNER: [org] } });
  });
  after(async () => {
    await stopAll();
    await receiver.stop();
  });

  const key = (r: { body: any }) => `${r.body.aggregateID}/${r.body.sequence}`;

  it('delivers each event once, whichever instance wrote it; the other takes over when the sender is killed', async () => {
    const target = await createTarget(a, admin, receiver, '/multi');
    await setExecution(b, admin, { event: 'user.human.mfa.otp.email.removed' }, [target]);
    await Promise.all(
      Array.from({ length: USERS }, async (_, i) => {
        const server = i % 2 ? a : b;
        const userId = await addUser(server, admin, org);
        await addOtpEmail(server, admin, userId);
        await removeOtpEmail(i % 3 ? a : b, admin, userId);
      }),
    );
    await receiver.waitFor(() => receiver.delivered('/multi').length >= USERS);
    // Both instances poll every second: a second sender would have sent by now.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const got = receiver.received.filter((r) => r.path === '/multi');
    assert.equal(got.length, USERS);
    assert.equal(new Set(got.map(key)).size, USERS, 'no event twice');
    assert.ok(got.every((r) => r.signatureError === null));
    const senders = [a, b].filter((server) => server.logs().includes(SENDER_LINE));
    assert.equal(senders.length, 1, 'one instance sends');

    const [sender] = senders;
    const other = sender === a ? b : a;
    await sender.kill();
    const userId = await addUser(other, admin, org);
    await addOtpEmail(other, admin, userId);
    await removeOtpEmail(other, admin, userId);
    await receiver.waitFor(() => receiver.delivered('/multi').some((r) => r.body.aggregateID === userId), 15_000, 'the other instance to take over');
    assert.ok(other.logs().includes(SENDER_LINE));
  });
});
