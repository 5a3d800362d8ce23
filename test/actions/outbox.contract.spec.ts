import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OutboxStore } from '../../src/actions/delivery/outbox.port';
import { PostgresOutboxStore } from '../../src/actions/delivery/postgres-outbox.adapter';
import { SqliteOutboxStore } from '../../src/actions/delivery/sqlite-outbox.adapter';
import { TestDatabase, createTestDatabase } from '../postgres/test-database';

const delivery = (position: number, aggregateId: string, targetId = 't1') => ({
  targetId,
  aggregateId,
  eventType: 'user.removed',
  sequence: position,
  position,
  body: `{"p":${position}}`,
});

interface Opened {
  open(): OutboxStore;
  cleanup(): Promise<void>;
}

async function sqlite(): Promise<Opened> {
  const dir = mkdtempSync(join(tmpdir(), 'mfa-outbox-'));
  return {
    open: () => new SqliteOutboxStore(join(dir, 'actions.sqlite'), join(dir, 'actions.lease')),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgres(): Promise<Opened> {
  const database: TestDatabase = await createTestDatabase(process.env.DATABASE_URL);
  return { open: () => new PostgresOutboxStore(database.url), cleanup: () => database.drop() };
}

const backends: Array<[string, () => Promise<Opened>]> = [['SQLite', sqlite]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', postgres]);

for (const [name, make] of backends) {
  describe(`the deliveries outbox on ${name}`, () => {
    const opened: OutboxStore[] = [];
    let backend: Opened | undefined;
    const open = async () => {
      backend ??= await make();
      const store = backend.open();
      opened.push(store);
      await store.prepare();
      return store;
    };
    after(async () => {
      for (const store of opened) await store.close().catch(() => undefined);
      await backend?.cleanup();
    });

    it('hands out the first pending delivery of each user only, oldest first; a parked one holds nothing up', async () => {
      const store = await open();
      await store.commit([delivery(1, 'a'), delivery(2, 'a'), delivery(3, 'b'), delivery(4, 'a', 't2')], [], 4, '{}', new Date(1000));
      // Committed again (a fan-out after a crash): nothing doubles, the checkpoint never goes back.
      await store.commit([delivery(1, 'a')], [], 2, '{"again":1}', new Date(1000));
      assert.deepEqual(await store.checkpoint(), { position: 4, config: '{"again":1}' });
      const due = async (at = 2000) => (await store.due('t1', new Date(at), 10)).map((d) => d.position);
      assert.deepEqual(await due(), [1, 3]);
      const [first] = await store.due('t1', new Date(2000), 1);
      await store.failed(first.id, 1, 'status 500', new Date(5000));
      assert.deepEqual(await due(), [3], 'a user waits while its first delivery is not due');
      assert.deepEqual(await due(6000), [1, 3]);
      await store.failed(first.id, 2, 'status 500', null);
      assert.deepEqual(await due(6000), [2, 3], 'after parking, the user goes on');
      const parked = (await store.search({ state: 'parked', offset: 0, limit: 10 })).deliveries;
      assert.deepEqual(parked.map((d) => [d.position, d.attempts, d.lastError]), [[1, 2, 'status 500']]);
      const live = (targetId: string) => targetId === 't1';
      assert.equal(await store.redeliver(first.id, new Date(7000), () => false), 'target_deleted', 'a deleted target is never sent to');
      assert.equal(await store.redeliver(first.id, new Date(7000), live), 'redelivered');
      assert.equal(await store.redeliver(first.id, new Date(7000), live), 'not_parked');
      assert.equal(await store.redeliver(999_999, new Date(7000), live), 'not_found');
      assert.deepEqual((await store.search({ targetId: 't1', offset: 0, limit: 10 })).deliveries.map((d) => d.position), [3, 2, 1]);
      const page = await store.search({ targetId: 't1', offset: 1, limit: 1 });
      assert.deepEqual([page.total, page.deliveries.map((d) => d.position)], [3, [2]], 'a page, and how many match in all');
      assert.deepEqual(await store.search({ targetId: 't1', offset: 10, limit: 1 }), { total: 3, deliveries: [] });
      assert.deepEqual(await store.search({ targetId: 'none', offset: 0, limit: 1 }), { total: 0, deliveries: [] });
      assert.deepEqual([...(await store.oldestPending()).keys()].sort(), ['t1', 't2']);
      await store.commit([], ['t2'], 5, '{}', new Date(8000));
      assert.deepEqual((await store.search({ targetId: 't2', offset: 0, limit: 10 })).deliveries[0].state, 'parked', 'a deleted target parks its deliveries');
    });

    it('prunes deliveries delivered before a time, in batches, and never a pending or parked one', async () => {
      const store = await open();
      const base = 100;
      await store.commit([delivery(base + 1, 'p'), delivery(base + 2, 'q'), delivery(base + 3, 'r'), delivery(base + 4, 's')], [], base + 4, '{}', new Date(10_000));
      await store.commit([delivery(base + 5, 't')], [], base + 5, '{}', new Date(10_000));
      const made = (await store.search({ offset: 0, limit: 100, ascending: true })).deliveries;
      const id = (position: number) => made.find((d) => d.position === position)!.id;
      for (const position of [base + 1, base + 2]) await store.delivered(id(position), 1, new Date(11_000));
      // Made as early, but delivered late (redelivered after a long park): kept for the retention from then.
      await store.delivered(id(base + 5), 3, new Date(20_000));
      await store.failed(id(base + 3), 1, 'status 500', null);
      const positions = async () => (await store.search({ offset: 0, limit: 100, ascending: true })).deliveries.map((d) => d.position).filter((p) => p > base);
      assert.equal(await store.pruneDelivered(new Date(15_000), 1), 1, 'a batch at most');
      assert.equal(await store.pruneDelivered(new Date(15_000), 10), 1);
      assert.equal(await store.pruneDelivered(new Date(15_000), 10), 0);
      assert.deepEqual(await positions(), [base + 3, base + 4, base + 5], 'the parked, the pending and the one delivered later stay');
    });

    it('lets one holder have the lease at a time, and the next take it once the first lets go', async () => {
      const [first, second] = [await open(), await open()];
      assert.equal(await first.tryLease(), true);
      assert.equal(await first.tryLease(), true);
      assert.equal(await second.tryLease(), false);
      assert.equal(await first.holdsLease(), true);
      await first.close();
      assert.equal(await second.tryLease(), true);
    });
  });
}
