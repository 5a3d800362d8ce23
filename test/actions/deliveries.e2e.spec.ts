import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RunningServer, startServer, stopAll } from '../support/server';
import { FAST_RETRIES, addOtpEmail, addUser, createTarget, eventually, ok, removeOtpEmail, searchDeliveries, setExecution } from './support/actions';
import { Receiver } from './support/receiver';
import { EMBEDDED_STORE, EMBEDDED_STORE_PASS_ONLY, openEventsReadOnly } from '../ops/support/ops';
import Database from 'better-sqlite3';
import { join } from 'node:path';

const REMOVED = 'user.human.mfa.otp.email.removed';

/** Events delivered to real HTTP targets on 127.0.0.1 by the real server, signed as ZITADEL signs them. */
describe('Actions: deliveries to targets', () => {
  const org = `org-actions-${Date.now()}`;
  const receiver = new Receiver();
  let server: RunningServer;
  let admin: string;

  before(async () => {
    await receiver.start();
    server = await startServer({ env: FAST_RETRIES });
    admin = await server.token({ sub: 'admin-actions', org, roles: { IAM_OWNER: [org] } });
  });
  after(async () => {
    await stopAll();
    await receiver.stop();
  });

  it('POSTs one removal once, signed, in ZITADEL\'s event body', async () => {
    const target = await createTarget(server, admin, receiver, '/once');
    await setExecution(server, admin, { event: REMOVED }, [target]);
    const userId = await addUser(server, admin, org);
    await addOtpEmail(server, admin, userId);
    const { details } = await removeOtpEmail(server, admin, userId);

    await receiver.waitFor(() => receiver.delivered('/once').length === 1);
    // Anything sent twice would have come by now: the service's own poll runs every second.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const got = receiver.received.filter((r) => r.path === '/once');
    assert.equal(got.length, 1);
    assert.equal(got[0].signatureError, null);
    assert.deepEqual(Object.keys(got[0].body).sort(), [
      'aggregateID', 'aggregateType', 'created_at', 'event_type', 'instanceID', 'resourceOwner', 'sequence', 'userID', 'version',
    ]);
    assert.deepEqual({ ...got[0].body, created_at: undefined }, {
      aggregateID: userId,
      aggregateType: 'user',
      resourceOwner: org,
      instanceID: 'default',
      version: 'v2',
      sequence: Number(details.sequence),
      event_type: REMOVED,
      created_at: undefined,
      userID: 'admin-actions',
    });
    assert.equal(got[0].body.created_at, details.changeDate);
    const [delivery] = await searchDeliveries(server, admin, { targetId: target });
    assert.equal(delivery.state, 'DELIVERY_STATE_DELIVERED');
    assert.equal(delivery.attempts, 1);
    assert.equal(delivery.aggregateId, userId);
    assert.ok(!server.logs().includes(receiver.keys.get('/once')!), 'the signing key is never logged');
  });

  it('sends the payload of events that have one, and tries a target answering 500 again until the fourth try', async () => {
    const target = await createTarget(server, admin, receiver, '/flaky');
    await setExecution(server, admin, { event: 'user.removed' }, [target]);
    receiver.answer = (path, _body, count) => (path === '/flaky' && count <= 3 ? 500 : 200);
    const userId = await addUser(server, admin, org);
    await ok(server.request('DELETE', `/v2/users/${userId}`, { token: admin }));

    await receiver.waitFor(() => receiver.delivered('/flaky').length === 1);
    const got = receiver.received.filter((r) => r.path === '/flaky');
    assert.deepEqual(got.map((r) => r.status), [500, 500, 500, 200]);
    assert.ok(got.every((r) => r.signatureError === null && r.raw === got[0].raw), 'every try sends the same body, freshly signed');
    assert.equal(got[3].body.event_type, 'user.removed');
    assert.ok(got[3].body.event_payload?.userName, 'user.removed carries its payload');
    // The receiver records a request before it answers: the service learns of the 200 a moment later.
    const [delivery] = await eventually(
      () => searchDeliveries(server, admin, { targetId: target }),
      (found) => found[0]?.state === 'DELIVERY_STATE_DELIVERED',
    );
    assert.equal(delivery.attempts, 4);
    assert.match(server.logs(), new RegExp(`to target ${target} .*failed on try 3: status 500; next try at`));
  });

  it("delivers ten events of one user in order while the target fails now and then", async () => {
    const target = await createTarget(server, admin, receiver, '/ordered');
    await setExecution(server, admin, { group: 'user.human' }, [target]);
    // Every third request fails, whichever event it carries.
    receiver.answer = (path, _body, count) => (path === '/ordered' && count % 3 === 0 ? 503 : 200);
    const userId = await addUser(server, admin, org); // user.human.added, user.human.email.verified
    for (let i = 0; i < 4; i++) {
      await addOtpEmail(server, admin, userId);
      await removeOtpEmail(server, admin, userId);
    }
    await receiver.waitFor(() => receiver.delivered('/ordered').length >= 10, 20_000);
    const sequences = receiver.delivered('/ordered').map((r) => r.body.sequence);
    assert.deepEqual(sequences, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const failed = receiver.received.filter((r) => r.path === '/ordered' && r.status === 503);
    assert.ok(failed.length >= 3, 'the target did fail in between');
  });

  it('parks a delivery that keeps failing, lists it, and redelivers it', async () => {
    const target = await createTarget(server, admin, receiver, '/down');
    await setExecution(server, admin, { event: REMOVED }, [target]);
    let up = false;
    receiver.answer = (path) => (path === '/down' && !up ? 500 : 200);
    const userId = await addUser(server, admin, org);
    await addOtpEmail(server, admin, userId);
    await removeOtpEmail(server, admin, userId);

    const [parked] = await eventually(
      () => searchDeliveries(server, admin, { targetId: target, state: 'DELIVERY_STATE_PARKED' }),
      (found) => found.length === 1,
    );
    assert.equal(parked.attempts, 5);
    assert.equal(parked.lastError, 'status 500');
    assert.equal(parked.eventType, REMOVED);
    assert.match(server.logs(), /parked after 5 tries/);
    assert.equal(receiver.received.filter((r) => r.path === '/down').length, 5);

    up = true;
    assert.deepEqual(await ok(server.request('POST', `/admin/v1/actions/deliveries/${parked.id}/_redeliver`, { token: admin })), {});
    await receiver.waitFor(() => receiver.delivered('/down').length === 1);
    const [after] = await eventually(
      () => searchDeliveries(server, admin, { targetId: target }),
      (found) => found[0]?.state === 'DELIVERY_STATE_DELIVERED',
    );
    assert.equal(after.id, parked.id);
    const again = await server.request('POST', `/admin/v1/actions/deliveries/${parked.id}/_redeliver`, { token: admin });
    assert.equal(again.status, 400);
    const missing = await server.request('POST', '/admin/v1/actions/deliveries/999999999/_redeliver', { token: admin });
    assert.equal(missing.status, 404);
  });

  it('shows deliveries on /metrics and lets only IAM owners search them', async () => {
    const metrics = await server.request('GET', '/metrics');
    assert.match(metrics.text, /mfa_actions_deliveries_total\{target="\d+",outcome="delivered"\} \d+/);
    assert.match(metrics.text, /mfa_actions_deliveries_total\{target="\d+",outcome="parked"\} 1/);
    assert.match(metrics.text, /mfa_actions_delivery_attempts_total\{target="\d+",result="failure"\} \d+/);
    assert.match(metrics.text, /# TYPE mfa_actions_oldest_pending_delivery_age_seconds gauge/);
    assert.match(metrics.text, /^mfa_subscription_lag_events\{subscription="actions_deliveries"\} \d+$/m, 'the fan-out has a lag, as every subscription');
    const manager = await server.token({ sub: 'manager', org, roles: { IAM_USER_MANAGER: [org] } });
    const refused = await server.request('POST', '/admin/v1/actions/deliveries/_search', { token: manager, body: {} });
    assert.equal(refused.status, 403);
  });

  it('reads the search as protobuf JSON (integers as strings, asc) and refuses a redeliver body that is no object', async () => {
    const search = async (query: object) => {
      const response = await server.request('POST', '/admin/v1/actions/deliveries/_search', { token: admin, body: { query } });
      assert.equal(response.status, 200, response.text);
      return (response.body.result ?? []).map((d: { id: string }) => Number(d.id));
    };
    const newest = await search({});
    assert.ok(newest.length >= 3, 'the tests before made deliveries');
    assert.deepEqual(newest, [...newest].sort((a, b) => b - a));
    const oldest = await search({ asc: true, limit: '2', offset: '1' });
    assert.deepEqual(oldest, [...newest].sort((a, b) => a - b).slice(1, 3));
    const page = await server.request('POST', '/admin/v1/actions/deliveries/_search', { token: admin, body: { query: { limit: 1 } } });
    assert.deepEqual([page.body.details, page.body.result.length], [{ totalResult: String(newest.length) }, 1], 'a page, and how many in all');
    // Enums by name or by number, fields by JSON or proto name.
    const byState = async (body: Record<string, unknown>) => (await searchDeliveries(server, admin, body)).map((d) => d.id);
    const delivered = await byState({ state: 'DELIVERY_STATE_DELIVERED' });
    assert.ok(delivered.length >= 1);
    assert.deepEqual(await byState({ state: 2 }), delivered);
    assert.deepEqual(await byState({ state: 0 }), await byState({}));
    assert.deepEqual(await byState({ state: 3 }), await byState({ state: 'DELIVERY_STATE_PARKED' }));
    const all = await searchDeliveries(server, admin);
    const [first, other] = [all[0].targetId, all.find((d) => d.targetId !== all[0].targetId)?.targetId];
    assert.ok(other, 'the tests before delivered to more than one target');
    const ofFirst = await byState({ target_id: first });
    assert.deepEqual(ofFirst, all.filter((d) => d.targetId === first).map((d) => d.id), 'target_id filters as targetId does');
    assert.deepEqual(await byState({ targetId: first }), ofFirst);
    const badState = await server.request('POST', '/admin/v1/actions/deliveries/_search', { token: admin, body: { state: 7 } });
    assert.equal(badState.status, 400, badState.text);
    assert.match(badState.body.message, /^invalid state: must be one of DELIVERY_STATE_UNSPECIFIED, /);
    const wrong = await server.request('POST', '/admin/v1/actions/deliveries/_search', { token: admin, body: { query: { offset: 'x' } } });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.message, 'invalid query.offset: must be an integer number');
    for (const body of ['[]', '"x"', '{']) {
      const refused = await fetch(`${server.url}/admin/v1/actions/deliveries/999999999/_redeliver`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body,
      });
      assert.equal(refused.status, 400, body); // not the 404 of an unknown delivery: the body is read first
    }
  });
});

describe('Actions: a target that does not answer', () => {
  const org = `org-actions-hang-${Date.now()}`;
  const receiver = new Receiver();
  let server: RunningServer;
  let admin: string;

  before(async () => {
    await receiver.start();
    server = await startServer({ env: { ...FAST_RETRIES, ACTIONS_MAX_IN_FLIGHT_PER_TARGET: '2' } });
    admin = await server.token({ sub: 'admin-hang', org, roles: { IAM_OWNER: [org] } });
  });
  after(async () => {
    await stopAll();
    await receiver.stop();
  });

  it('is given up on after its timeout, with at most ACTIONS_MAX_IN_FLIGHT_PER_TARGET requests under way, while another target gets every event', async () => {
    receiver.hangs = (path) => path === '/hangs';
    const hangs = await createTarget(server, admin, receiver, '/hangs', '1s');
    const answers = await createTarget(server, admin, receiver, '/answers');
    await setExecution(server, admin, { group: 'user.human' }, [hangs, answers]);
    // Five users: their deliveries may go side by side (only one user's go one after the other).
    const users: string[] = [];
    for (let i = 0; i < 5; i++) {
      const userId = await addUser(server, admin, org);
      users.push(userId);
      await addOtpEmail(server, admin, userId);
      await removeOtpEmail(server, admin, userId);
    }
    // Every event of theirs reaches the target that answers, in far less time than the other one's
    // requests, two at a time, a second each, would take.
    const made = await eventually(() => searchDeliveries(server, admin, { targetId: answers }), (found) => found.length >= users.length * 3, 3000);
    await receiver.waitFor(() => receiver.delivered('/answers').length >= made.length, 3000, 'every event at the target that answers');

    const failed = await eventually(
      () => searchDeliveries(server, admin, { targetId: hangs }),
      (found) => found.some((d) => d.lastError === 'no answer within 1000 ms'),
      10_000,
    );
    assert.ok(failed.every((d) => d.state === 'DELIVERY_STATE_PENDING'), 'given up on for now, tried again later');
    assert.equal(receiver.mostOpen.get('/hangs'), 2, 'two requests under way at most, and two indeed');
  });

  it('follows no redirect: a target is called only at the endpoint an IAM owner set', async () => {
    receiver.redirects = (path) => (path === '/moved' ? receiver.url('/elsewhere') : undefined);
    const moved = await createTarget(server, admin, receiver, '/moved');
    await setExecution(server, admin, { event: REMOVED }, [moved]);
    const userId = await addUser(server, admin, org);
    await addOtpEmail(server, admin, userId);
    await removeOtpEmail(server, admin, userId);
    const [failed] = await eventually(
      () => searchDeliveries(server, admin, { targetId: moved }),
      (found) => found[0]?.lastError === 'status 302',
    );
    assert.equal(failed.aggregateId, userId);
    assert.deepEqual(receiver.received.filter((r) => r.path === '/elsewhere'), [], 'nothing was sent where it pointed');
  });
});

describe('Actions: a delivery pending when the service is killed', () => {
  const org = `org-actions-kill-${Date.now()}`;
  const receiver = new Receiver();
  after(async () => {
    await stopAll();
    await receiver.stop();
  });

  it('arrives after a restart', async () => {
    await receiver.start();
    let up = false;
    receiver.answer = () => (up ? 200 : 503);
    const first = await startServer({ env: { ...FAST_RETRIES, ACTIONS_MAX_ATTEMPTS: '1000' } });
    const admin = await first.token({ sub: 'admin-kill', org, roles: { IAM_OWNER: [org] } });
    const target = await createTarget(first, admin, receiver, '/later');
    await setExecution(first, admin, { event: REMOVED }, [target]);
    const userId = await addUser(first, admin, org);
    await addOtpEmail(first, admin, userId);
    await removeOtpEmail(first, admin, userId);
    await eventually(
      () => searchDeliveries(first, admin, { targetId: target, state: 'DELIVERY_STATE_PENDING' }),
      (found) => found[0]?.attempts >= 1,
    );
    await first.kill();
    up = true;
    const tries = receiver.received.length;

    const second = await startServer({ dataDir: first.dataDir, env: FAST_RETRIES });
    await receiver.waitFor(() => receiver.delivered('/later').length >= 1);
    assert.ok(receiver.received.length > tries);
    const got = receiver.delivered('/later');
    assert.equal(got[0].body.aggregateID, userId);
    assert.equal(got[0].signatureError, null);
    await eventually(
      () => searchDeliveries(second, admin, { targetId: target }),
      (found) => found[0]?.state === 'DELIVERY_STATE_DELIVERED',
    );
  });
});

describe('Actions: signing keys sealed with ACTIONS_SIGNING_KEY_SECRET', EMBEDDED_STORE_PASS_ONLY, () => {
  const org = `org-actions-sealed-${Date.now()}`;
  const receiver = new Receiver();
  const secret = 'a test secret of more than thirty-two characters';
  after(async () => {
    await stopAll();
    await receiver.stop();
  });

  it('keeps the key out of the log and the outbox, signs with it, and says so when another secret cannot open it', async () => {
    await receiver.start();
    const first = await startServer({ env: { ...FAST_RETRIES, ...EMBEDDED_STORE, ACTIONS_SIGNING_KEY_SECRET: secret } });
    const admin = await first.token({ sub: 'admin-sealed', org, roles: { IAM_OWNER: [org] } });
    const target = await createTarget(first, admin, receiver, '/sealed');
    const key = receiver.keys.get('/sealed')!;
    await setExecution(first, admin, { event: REMOVED }, [target]);
    const userId = await addUser(first, admin, org);
    await addOtpEmail(first, admin, userId);
    await removeOtpEmail(first, admin, userId);
    await receiver.waitFor(() => receiver.delivered('/sealed').length === 1);
    assert.equal(receiver.delivered('/sealed')[0].signatureError, null, 'signed with the key CreateTarget answered');

    const events = openEventsReadOnly(first.dataDir);
    const stored = events.prepare("SELECT data FROM events WHERE type LIKE 'target.%'").all() as Array<{ data: string }>;
    events.close();
    assert.ok(stored.length >= 1);
    for (const { data } of stored) assert.ok(!data.includes(key), 'the log holds the key sealed only');
    const outbox = new Database(join(first.dataDir, 'actions.sqlite'), { readonly: true });
    const { config } = outbox.prepare('SELECT config FROM actions_checkpoint').get() as { config: string };
    outbox.close();
    assert.ok(config.includes(target) && !config.includes(key), 'so does the outbox');
    await first.stop();

    const second = await startServer({ dataDir: first.dataDir, env: { ...FAST_RETRIES, ...EMBEDDED_STORE, ACTIONS_SIGNING_KEY_SECRET: `${secret}, another` } });
    await addOtpEmail(second, admin, userId);
    await removeOtpEmail(second, admin, userId);
    const [parked] = await eventually(
      () => searchDeliveries(second, admin, { targetId: target, state: 'DELIVERY_STATE_PARKED' }),
      (found) => found.length === 1,
    );
    assert.match(parked.lastError, /cannot be opened with ACTIONS_SIGNING_KEY_SECRET/);
    assert.equal(receiver.received.filter((r) => r.path === '/sealed').length, 1, 'nothing unsigned or wrongly signed was sent');
  });
});
