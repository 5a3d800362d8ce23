import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { StoreUnavailableError, WrongExpectedRevisionError } from '../../src/event-store/event-store.port';
import {
  EVENT_STORE_MIGRATIONS,
  PostgresStore,
  READ_MODEL_MIGRATIONS,
} from '../../src/event-store/postgres/postgres-store.adapter';
import { newEvent } from '../store-contract/event-store.contract';
import { TcpProxy } from './tcp-proxy';
import { TEST_POSTGRES_URL, TestDatabase, createTestDatabase, skippedWithoutPostgres } from './test-database';

/** What only the PostgreSQL adapters promise, beyond the store contracts. */
describe('PostgreSQL adapters', async () => {
  if (await skippedWithoutPostgres()) return;

  const databases: TestDatabase[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  const fresh = async () => {
    const database = await createTestDatabase();
    databases.push(database);
    return database;
  };
  const openEvents = async (url: string) => {
    const store = await PostgresStore.open(url, { inline: [] });
    closers.push(() => store.close());
    return store;
  };
  let sql: Client;
  before(async () => {
    sql = new Client({ connectionString: TEST_POSTGRES_URL });
    await sql.connect();
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await sql.end();
    for (const database of databases) await database.drop();
  });

  it('migrates an empty database once when several instances open it at the same time', async () => {
    const { url } = await fresh();
    const opened = await Promise.all([
      ...[1, 2, 3].map(() => PostgresStore.open(url, { inline: [] })),
      ...[1, 2, 3].map(() => PostgresStore.open(url)),
    ]);
    for (const store of opened) closers.push(() => store.close());
    const check = new Client({ connectionString: url });
    await check.connect();
    try {
      const { rows } = await check.query('SELECT component, version FROM schema_migrations ORDER BY component, version');
      assert.deepEqual(rows, [
        ...EVENT_STORE_MIGRATIONS.map((m) => ({ component: 'event_store', version: m.version })),
        ...READ_MODEL_MIGRATIONS.map((m) => ({ component: 'read_models', version: m.version })),
      ]);
    } finally {
      await check.end();
    }
    // Opening again finds nothing to do.
    closers.push(async () => undefined);
    await (await PostgresStore.open(url)).close();
  });

  it('refuses a database whose schema is newer than this build', async () => {
    const { url } = await fresh();
    await (await PostgresStore.open(url)).close();
    const check = new Client({ connectionString: url });
    await check.connect();
    await check.query(`INSERT INTO schema_migrations (component, version, description) VALUES ('event_store', 99, 'future')`);
    await check.end();
    await assert.rejects(PostgresStore.open(url), /newer than this build/);
  });

  it('numbers events without gaps, as numbers, across instances', async () => {
    const { url } = await fresh();
    const [a, b] = [await openEvents(url), await openEvents(url)];
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).append(`s-${i % 5}`, 'any', [newEvent(), newEvent()])),
    );
    const positions = results.flatMap((r) => r.events.map((e) => e.position)).sort((x, y) => x - y);
    assert.deepEqual(positions, Array.from({ length: 60 }, (_, i) => i + 1));
    assert.equal(typeof (await a.headPosition()), 'number');
    assert.equal(await b.headPosition(), 60);
  });

  it('refuses an append that reuses a stored event id, and commits the other appends of its group', async () => {
    const { url } = await fresh();
    const store = await openEvents(url);
    const reused = newEvent();
    await store.append('s-1', 'no_stream', [reused]);
    // Issued in one turn of the event loop: one group, whose statement fails and is retried append by append.
    const [bad, good] = await Promise.allSettled([
      store.append('s-2', 'no_stream', [newEvent(), reused]),
      store.append('s-3', 'no_stream', [newEvent()]),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.match(String((bad as PromiseRejectedResult).reason), /events_event_id/);
    assert.equal(good.status, 'fulfilled');
    assert.equal((await store.readStream('s-2')).revision, 'no_stream');
    assert.equal((await store.readStream('s-3')).revision, 0);
  });

  it('never hides from readAll an event another instance appended between two of its own', async () => {
    const { url } = await fresh();
    const [store, other] = [await openEvents(url), await openEvents(url)];
    const mine = await store.append('m-1', 'no_stream', [newEvent()]);
    const theirs = await other.append('t-1', 'no_stream', [newEvent()]);
    const mineAgain = await store.append('m-2', 'no_stream', [newEvent()]);
    const read = await store.readAll({ after: 0, limit: 100 });
    assert.deepEqual(
      read.map((e) => e.position),
      [mine.position, theirs.position, mineAgain.position],
    );
    assert.deepEqual(await store.readAll({ after: mineAgain.position - 1, limit: 100 }), mineAgain.events);
    const later = await other.append('t-2', 'no_stream', [newEvent()]);
    assert.deepEqual(
      (await store.readAll({ after: mineAgain.position, limit: 100 })).map((e) => e.position),
      [later.position],
    );
  });

  it('commits a group in which a stream appears more than once in the order the appends were issued', async () => {
    const { url } = await fresh();
    const store = await openEvents(url);
    await store.append('s-0', 'no_stream', [newEvent()]);
    // Issued in one turn of the event loop: one group, in which s-1 needs two rounds and s-2 three.
    const issued = [
      store.append('s-1', 'no_stream', [newEvent()]),
      store.append('s-2', 'no_stream', [newEvent(), newEvent()]),
      store.append('s-1', 0, [newEvent()]),
      store.append('s-0', 'no_stream', [newEvent()]),
      store.append('s-2', 1, [newEvent()]),
      store.append('s-2', 1, [newEvent()]),
    ];
    const outcomes = await Promise.allSettled(issued);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected'],
    );
    assert.equal(((outcomes[3] as PromiseRejectedResult).reason as WrongExpectedRevisionError).actual, 0);
    assert.equal(((outcomes[5] as PromiseRejectedResult).reason as WrongExpectedRevisionError).actual, 2);
    const positions = outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value.events.map((e) => e.position) : []));
    // Gap-free, in the order issued.
    assert.deepEqual(positions, positions.map((_, i) => positions[0] + i));
    assert.deepEqual((await store.readStream('s-1')).events.map((e) => e.revision), [0, 1]);
    assert.deepEqual((await store.readStream('s-2')).events.map((e) => e.revision), [0, 1, 2]);
    const all = await store.readAll({ after: 0, limit: 100 });
    assert.deepEqual(all.map((e) => e.position), all.map((_, i) => i + 1));
  });

  it('fails with StoreUnavailableError while PostgreSQL is unreachable, and recovers by itself', async () => {
    const database = await fresh();
    const proxy = new TcpProxy('127.0.0.1', Number(new URL(database.url).port || 5432));
    await proxy.start();
    closers.push(() => proxy.cut());
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    const store = await openEvents(proxied.toString());
    const readModels = store;
    const first = await store.append('s-1', 'no_stream', [newEvent()]);

    await proxy.cut();
    const failures = await Promise.allSettled([
      store.append('s-1', 0, [newEvent()]),
      store.readStream('s-1'),
      store.readAll({ after: first.position, limit: 10 }),
      store.headPosition(),
      readModels.checkpoint({ name: 'x', version: 1, eventTypes: [], documentId: () => null, evolve: () => null }),
    ]);
    for (const failure of failures) {
      assert.equal(failure.status, 'rejected');
      assert.ok((failure as PromiseRejectedResult).reason instanceof StoreUnavailableError, String((failure as PromiseRejectedResult).reason));
    }
    await proxy.start();
    const appended = await store.append('s-1', 0, [newEvent()]);
    assert.equal(appended.revision, 1, 'the refused append wrote nothing');
    assert.equal((await store.readStream('s-1')).events.length, 2);
  });

  it('learns whether an append whose COMMIT went unanswered committed, and answers accordingly', async () => {
    const database = await fresh();
    const proxy = new TcpProxy('127.0.0.1', Number(new URL(database.url).port || 5432));
    await proxy.start();
    closers.push(() => proxy.cut());
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    const store = await openEvents(proxied.toString());

    // PostgreSQL receives the COMMIT and commits; the answer is lost with the connection.
    const delivered = proxy.breakAt('COMMIT', true);
    const committed = await store.append('s-1', 'no_stream', [newEvent(), newEvent()]);
    await delivered;
    assert.equal(committed.revision, 1);
    assert.equal((await store.readStream('s-1')).events.length, 2);

    // The COMMIT is lost on the way: the transaction never commits, and the append fails.
    const lost = proxy.breakAt('COMMIT', false);
    await assert.rejects(store.append('s-1', 1, [newEvent()]), StoreUnavailableError);
    await lost;
    assert.equal((await store.readStream('s-1')).revision, 1, 'nothing of the failed append was written');
    assert.equal((await store.append('s-1', 1, [newEvent()])).revision, 2);
  });

  it('fails fast with StoreUnavailableError when no server listens', async () => {
    const started = Date.now();
    await assert.rejects(PostgresStore.open('postgres://postgres@127.0.0.1:1/nothing'), StoreUnavailableError);
    assert.ok(Date.now() - started < 5000);
  });
});
