import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NewEvent } from '../event-store.port';
import { SqliteEventStore } from './sqlite-event-store.adapter';

/**
 * What the embedded store does beyond the contract every backend keeps
 * (test/store-contract): reading a stream from a revision on, and answering readAll from the
 * events it committed last without ever hiding one that another process wrote.
 */

const event = (type = 'sqlite.tested'): NewEvent => ({
  eventId: randomUUID(),
  type,
  data: { n: 1 },
  metadata: { resourceOwner: 'org-1', creator: 'user-1', correlationId: randomUUID() },
  createdAt: new Date(1718261075847),
});

describe('SqliteEventStore', () => {
  let dir: string;
  let store: SqliteEventStore;
  /** A second client of the same file, as another process would be. */
  let other: SqliteEventStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mfa-sqlite-'));
    store = new SqliteEventStore(join(dir, 'events.sqlite'));
    other = new SqliteEventStore(join(dir, 'events.sqlite'));
  });
  after(async () => {
    await store.close();
    await other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a stream from a revision on, and still tells the revision of its last event', async () => {
    const id = `s-${randomUUID()}`;
    await store.append(id, 'no_stream', [event(), event(), event()]);

    const from1 = await store.readStream(id, { fromRevision: 1 });
    assert.deepEqual(from1.events.map((e) => e.revision), [1, 2]);
    assert.equal(from1.revision, 2);
    assert.deepEqual(from1.events, (await store.readStream(id)).events.slice(1));

    assert.deepEqual(await store.readStream(id, { fromRevision: 3 }), { events: [], revision: 2 });
    assert.deepEqual(await store.readStream(`none-${randomUUID()}`, { fromRevision: 3 }), { events: [], revision: 'no_stream' });
  });

  it('reads as many events as asked, for any number of different limits', async () => {
    // The first limits get a statement each, the ones after are bound as a parameter: both count.
    const id = `l-${randomUUID()}`;
    await store.append(id, 'no_stream', Array.from({ length: 30 }, () => event()));
    const whole = (await store.readStream(id)).events;
    assert.equal(whole.length, 30);
    for (const maxCount of [...Array.from({ length: 25 }, (_, n) => n), 1e9, -1]) {
      const read = await store.readStream(id, { fromRevision: 2, maxCount });
      const expected = maxCount < 0 ? 28 : Math.min(maxCount, 28);
      assert.deepEqual(read.events, whole.slice(2, 2 + expected), `maxCount ${maxCount}`);
    }
  });

  it('answers readAll after its own commits exactly as the database does', async () => {
    const head = await store.headPosition();
    const a = `a-${randomUUID()}`;
    const b = `b-${randomUUID()}`;
    await Promise.all([
      store.append(a, 'no_stream', [event('kept'), event('skipped')]),
      store.append(b, 'no_stream', [event('kept')]),
    ]);
    await store.append(a, 1, [event('kept')]);
    for (const options of [
      { after: head, limit: 100 },
      { after: head + 1, limit: 2 },
      { after: head, limit: 100, eventTypes: ['kept'] },
    ]) {
      // `other` has committed nothing, so it reads these from the file.
      assert.deepEqual(await store.readAll(options), await other.readAll(options), JSON.stringify(options));
    }
  });

  it('answers readAll after a commit larger than the events it keeps as the database does', async () => {
    const head = await store.headPosition();
    const id = `big-${randomUUID()}`;
    await store.append(id, 'no_stream', Array.from({ length: 5000 }, () => event()));
    await store.append(id, 4999, [event()]);
    for (const after of [head, head + 100, head + 4990]) {
      assert.deepEqual(await store.readAll({ after, limit: 10_000 }), await other.readAll({ after, limit: 10_000 }), `after ${after}`);
    }
  });

  it('never hides an event another process committed between two of its own', async () => {
    const head = await store.headPosition();
    const mine = await store.append(`m-${randomUUID()}`, 'no_stream', [event()]);
    const theirs = await other.append(`t-${randomUUID()}`, 'no_stream', [event()]);
    const mineAgain = await store.append(`m-${randomUUID()}`, 'no_stream', [event()]);
    const read = await store.readAll({ after: head, limit: 100 });
    assert.deepEqual(
      read.map((e) => e.position),
      [mine.position, theirs.position, mineAgain.position],
    );
    // And after the other's last event, once this store has committed nothing since.
    const later = await other.append(`t-${randomUUID()}`, 'no_stream', [event()]);
    assert.deepEqual(
      (await store.readAll({ after: mineAgain.position, limit: 100 })).map((e) => e.position),
      [later.position],
    );
  });

  it('reads by type the same whether it takes one index range per type or walks the log', async () => {
    // Read by `other`, which committed none of them: the answers come from the database.
    const types = Array.from({ length: 12 }, (_, i) => `sqlite.typed.${i}`);
    const from = await other.headPosition();
    for (let round = 0; round < 5; round++) {
      await store.append(`typed-${round}`, 'no_stream', types.map((type) => event(type)));
    }
    const everything = (await other.readAll({ after: from, limit: 1000 })).map((e) => [e.position, e.type] as const);
    for (const wanted of [types.slice(0, 1), types.slice(2, 5), types.slice(0, 8), types.slice(0, 9), types]) {
      const expected = everything.filter(([, type]) => wanted.includes(type));
      for (const limit of [1, 7, 1000]) {
        const read = await other.readAll({ after: from, limit, eventTypes: [...wanted, ...wanted] });
        assert.deepEqual(
          read.map((e) => [e.position, e.type]),
          expected.slice(0, limit),
          `${wanted.length} types, limit ${limit}`,
        );
      }
    }
  });

  it('commits what it accepted before it closes', async () => {
    const file = join(dir, 'closing.sqlite');
    const closing = new SqliteEventStore(file);
    const id = `c-${randomUUID()}`;
    const appended = closing.append(id, 'no_stream', [event()]);
    await closing.close();
    assert.equal((await appended).revision, 0);
    await assert.rejects(closing.append(id, 0, [event()]), /closed/);
    const reopened = new SqliteEventStore(file);
    assert.equal((await reopened.readStream(id)).revision, 0);
    await reopened.close();
  });
});
