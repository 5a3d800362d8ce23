import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RecordedEvent } from '../../src/event-store/event-store.port';
import {
  DocumentProjection,
  EvolveError,
  ReadModelStore,
  RebuildSupersededError,
  tableOf,
} from '../../src/projections/read-model-store.port';

export interface OpenedReadModelStore {
  store: ReadModelStore;
  /** Closes `store` and removes whatever `open` created. */
  cleanup(): Promise<void>;
  /** Another client of the same store, as a second process would open it; the contract closes it. */
  another?(): Promise<ReadModelStore>;
}

/** A document that remembers every event applied to it, so a double apply shows. */
interface Counter {
  id: string;
  count: number;
  positions: number[];
}

const COUNTED = 'contract.counted';
const RESET = 'contract.reset';

function countersProjection(name: string, version = 1, failAt?: number): DocumentProjection<Counter> {
  return {
    name,
    version,
    eventTypes: [COUNTED, RESET],
    documentId: (event) => (typeof event.data?.id === 'string' ? event.data.id : null),
    evolve(doc, event) {
      if (event.position === failAt) throw new Error(`evolve fails at ${failAt}, as the test asks`);
      if (event.type === RESET) return null;
      const id = event.data!.id as string;
      return { id, count: (doc?.count ?? 0) + 1, positions: [...(doc?.positions ?? []), event.position] };
    },
  };
}

function recorded(position: number, id: string | null, type = COUNTED): RecordedEvent {
  return {
    eventId: randomUUID(),
    streamId: `counter-${id}`,
    revision: 0,
    position,
    type,
    data: id === null ? null : { id },
    metadata: { resourceOwner: 'org-1', creator: 'user-1', correlationId: 'c' },
    createdAt: new Date(1_700_000_000_000 + position),
  };
}

/** Events at positions from..to (inclusive), spread over `ids`. */
function range(from: number, to: number, ids: readonly string[]): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  for (let p = from; p <= to; p++) events.push(recorded(p, ids[p % ids.length]));
  return events;
}

/** The contract every ReadModelStore backend keeps. Backends: test/store-contract/*.contract.spec.ts. */
export function readModelStoreContract(name: string, open: () => Promise<OpenedReadModelStore>): void {
  describe(`read model store contract: ${name}`, () => {
    let opened: OpenedReadModelStore;
    let store: ReadModelStore;
    const others: ReadModelStore[] = [];
    const run = randomUUID().slice(0, 8);
    let views = 0;
    /** A projection with a table of its own, so tests never share rows. */
    const fresh = (failAt?: number) => countersProjection(`contract_${run}_${++views}`, 1, failAt);

    before(async () => {
      opened = await open();
      store = opened.store;
    });
    after(async () => {
      for (const other of others) await other.close();
      await opened?.cleanup();
    });

    it('prepares a table and a checkpoint at 0, and preparing again is harmless', async () => {
      const view = fresh();
      await store.prepare(view);
      await store.prepare(view);
      const checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.position, 0);
      assert.equal(checkpoint.lastEventAt, null);
      assert.equal(checkpoint.generation, 0);
      assert.equal(checkpoint.failure, null);
      assert.equal(checkpoint.rebuild, null);
      assert.equal(await store.get(view, 'nobody'), null);
      assert.deepEqual(await store.list(view, { offset: 0, limit: 10, descending: false }), { total: 0, documents: [] });
    });

    it('applies events to documents and moves the checkpoint in one step', async () => {
      const view = fresh();
      await store.prepare(view);
      const events = [recorded(3, 'a'), recorded(5, 'b'), recorded(8, 'a')];
      assert.equal(await store.apply(view, events, 10), 10);
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 2, positions: [3, 8] });
      assert.deepEqual(await store.get(view, 'b'), { id: 'b', count: 1, positions: [5] });
      const checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.position, 10);
      assert.equal(checkpoint.lastEventAt?.getTime(), events[2].createdAt.getTime());
      assert.ok(checkpoint.updatedAt instanceof Date);
      assert.equal(typeof checkpoint.position, 'number');
    });

    it('changes nothing when a batch at or before the checkpoint is applied again', async () => {
      const view = fresh();
      await store.prepare(view);
      const events = range(1, 6, ['a', 'b']);
      await store.apply(view, events, 6);
      const before = [await store.get(view, 'a'), await store.get(view, 'b')];
      assert.equal(await store.apply(view, events, 6), 6);
      assert.equal(await store.apply(view, events.slice(0, 3), 3), 6, 'the checkpoint never moves back');
      assert.deepEqual([await store.get(view, 'a'), await store.get(view, 'b')], before);
      assert.equal((await store.checkpoint(view)).position, 6);
    });

    it('applies only the events after the checkpoint from an overlapping batch', async () => {
      const view = fresh();
      await store.prepare(view);
      await store.apply(view, range(1, 4, ['a']), 4);
      assert.equal(await store.apply(view, range(3, 7, ['a']), 7), 7);
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 7, positions: [1, 2, 3, 4, 5, 6, 7] });
    });

    it('removes a document evolve turns into null, and skips events without a document', async () => {
      const view = fresh();
      await store.prepare(view);
      await store.apply(view, [recorded(1, 'a'), recorded(2, 'b'), recorded(3, null)], 3);
      await store.apply(view, [recorded(4, 'a', RESET)], 4);
      assert.equal(await store.get(view, 'a'), null);
      assert.deepEqual(await store.get(view, 'b'), { id: 'b', count: 1, positions: [2] });
      await store.apply(view, [recorded(5, 'a')], 5);
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 1, positions: [5] });
    });

    it('moves the checkpoint past events of other types (an empty batch)', async () => {
      const view = fresh();
      await store.prepare(view);
      await store.apply(view, [recorded(2, 'a')], 2);
      assert.equal(await store.apply(view, [], 40), 40);
      const checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.position, 40);
      assert.equal(checkpoint.lastEventAt?.getTime(), recorded(2, 'a').createdAt.getTime());
    });

    it('keeps rows and checkpoint together: a batch that fails changes neither', async () => {
      const name = `contract_${run}_${++views}`;
      const healthy = countersProjection(name);
      await store.prepare(healthy);
      await store.apply(healthy, range(1, 2, ['a', 'b']), 2);
      const failing = countersProjection(name, 1, 5);
      await assert.rejects(store.apply(failing, range(3, 6, ['a', 'b']), 6), (error: unknown) => {
        assert.match(String((error as Error).message), /evolve fails at 5/);
        if (error instanceof EvolveError) assert.equal(error.event.position, 5);
        return true;
      });
      assert.equal((await store.checkpoint(healthy)).position, 2);
      assert.deepEqual(await store.get(healthy, 'a'), { id: 'a', count: 1, positions: [2] });
      assert.deepEqual(await store.get(healthy, 'b'), { id: 'b', count: 1, positions: [1] });
      assert.equal(await store.apply(healthy, range(3, 6, ['a', 'b']), 6), 6);
      assert.deepEqual(await store.get(healthy, 'a'), { id: 'a', count: 3, positions: [2, 4, 6] });
    });

    it('applies several projections in one transaction, all or nothing', async () => {
      const first = fresh();
      const second = fresh();
      await store.prepare(first);
      await store.prepare(second);
      await store.apply(second, range(1, 2, ['x']), 2);
      const applied = await store.applyEach([
        { projection: first, events: range(1, 4, ['a', 'b']), upTo: 5 },
        { projection: second, events: range(1, 4, ['x']), upTo: 4 },
      ]);
      assert.deepEqual(applied, [
        { position: 5, generation: 0 },
        { position: 4, generation: 0 },
      ]);
      assert.deepEqual(await store.get(first, 'a'), { id: 'a', count: 2, positions: [2, 4] });
      assert.deepEqual(await store.get(second, 'x'), { id: 'x', count: 4, positions: [1, 2, 3, 4] }, 'events before its checkpoint skipped');

      // The second one fails on an event: neither moves.
      const failing = countersProjection(second.name, 1, 6);
      await assert.rejects(
        store.applyEach([
          { projection: first, events: range(6, 7, ['a']), upTo: 7 },
          { projection: failing, events: range(5, 7, ['x']), upTo: 7 },
        ]),
        /evolve fails at 6/,
      );
      assert.equal((await store.checkpoint(first)).position, 5);
      assert.equal((await store.checkpoint(second)).position, 4);
      assert.deepEqual(await store.get(first, 'a'), { id: 'a', count: 2, positions: [2, 4] });
    });

    it('keeps each version of a projection in its own table and checkpoint', async () => {
      const name = `contract_${run}_${++views}`;
      const v1 = countersProjection(name, 1);
      const v2 = countersProjection(name, 2);
      assert.notEqual(tableOf(v1), tableOf(v2));
      await store.prepare(v1);
      await store.prepare(v2);
      await store.apply(v1, range(1, 3, ['a']), 3);
      assert.equal((await store.checkpoint(v2)).position, 0);
      assert.equal(await store.get(v2, 'a'), null);
      await store.apply(v2, range(1, 1, ['a']), 1);
      assert.deepEqual(await store.get(v2, 'a'), { id: 'a', count: 1, positions: [1] });
      assert.equal((await store.get(v1, 'a'))?.count, 3);
    });

    it('keeps any string a document holds', async () => {
      const awkward: DocumentProjection<{ id: string; text: string }> = {
        name: `contract_${run}_${++views}`,
        version: 1,
        eventTypes: [COUNTED],
        documentId: (event) => event.data!.id as string,
        evolve: (_doc, event) => ({ id: event.data!.id as string, text: event.data!.text as string }),
      };
      await store.prepare(awkward);
      const text = 'nul \u0000, lone surrogate \ud800, "quoted" \\ 🙂';
      await store.apply(awkward, [{ ...recorded(1, 'a'), data: { id: 'a', text } }], 1);
      assert.deepEqual(await store.get(awkward, 'a'), { id: 'a', text });
      assert.deepEqual((await store.list(awkward, { offset: 0, limit: 1, descending: false })).documents, [{ id: 'a', text }]);
    });

    it('lists documents by id, in either order, a page at a time, with the total', async () => {
      const view = fresh();
      await store.prepare(view);
      const ids = ['b', 'a', 'd', 'c', 'e', '10', '9'];
      await store.apply(view, ids.map((id, i) => recorded(i + 1, id)), ids.length);
      const sorted = [...ids].sort();
      const page = await store.list<Counter>(view, { offset: 1, limit: 3, descending: false });
      assert.equal(page.total, ids.length);
      assert.deepEqual(page.documents.map((doc) => doc.id), sorted.slice(1, 4));
      const back = await store.list<Counter>(view, { offset: 0, limit: 2, descending: true });
      assert.deepEqual(back.documents.map((doc) => doc.id), [...sorted].reverse().slice(0, 2));
      assert.deepEqual((await store.list(view, { offset: 10, limit: 5, descending: false })).documents, []);
    });

    it('records a failure with the checkpoint, and clears it', async () => {
      const view = fresh();
      await store.prepare(view);
      const failure = {
        position: 7,
        eventType: COUNTED,
        streamId: 'counter-a',
        message: 'cannot apply',
        at: new Date('2024-06-13T06:44:35.847Z'),
      };
      await store.recordFailure(view, 0, failure);
      assert.deepEqual((await store.checkpoint(view)).failure, failure);
      await store.recordFailure(view, 0, null);
      assert.equal((await store.checkpoint(view)).failure, null);
    });

    it('rebuilds a view into a new generation beside the active one, then switches to it', async () => {
      const view = fresh();
      await store.prepare(view);
      const events = range(1, 10, ['a', 'b']);
      await store.apply(view, events.slice(0, 6), 6);
      const generation = await store.startRebuild(view);
      assert.ok(generation > 0);
      let checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, 0);
      assert.equal(checkpoint.rebuild?.generation, generation);
      assert.equal(checkpoint.rebuild?.position, 0);
      assert.ok(checkpoint.rebuild?.startedAt instanceof Date);

      assert.equal(await store.applyRebuild(view, generation, events.slice(0, 4), 4), 4);
      assert.equal((await store.checkpoint(view)).rebuild?.position, 4);
      // The active generation answers reads meanwhile, and keeps following the log.
      assert.equal((await store.get<Counter>(view, 'a'))?.count, 3);
      await store.apply(view, events.slice(6, 8), 8);
      // Not caught up with the active generation (8): applied, but no switch.
      assert.equal(await store.finishRebuild(view, generation, events.slice(4, 6), 6), false);
      assert.equal((await store.checkpoint(view)).generation, 0);
      assert.equal(await store.finishRebuild(view, generation, events.slice(6, 9), 9), true);

      checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, generation);
      assert.equal(checkpoint.position, 9);
      assert.equal(checkpoint.rebuild, null);
      assert.equal(checkpoint.lastEventAt?.getTime(), events[8].createdAt.getTime());
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 4, positions: [2, 4, 6, 8] });
      assert.deepEqual(await store.get(view, 'b'), { id: 'b', count: 5, positions: [1, 3, 5, 7, 9] });
      // The new generation is the live one now.
      assert.equal(await store.apply(view, events.slice(9), 10), 10);
      assert.equal((await store.get<Counter>(view, 'a'))?.count, 5);
      assert.equal((await store.list(view, { offset: 0, limit: 10, descending: false })).total, 2);
      await store.prepare(view);
      assert.equal((await store.get<Counter>(view, 'a'))?.count, 5, 'preparing again keeps the active generation');
    });

    it('abandons a rebuild that a newer one replaces', async () => {
      const view = fresh();
      await store.prepare(view);
      const first = await store.startRebuild(view);
      await store.applyRebuild(view, first, range(1, 2, ['a']), 2);
      const second = await store.startRebuild(view);
      assert.ok(second > first);
      await assert.rejects(store.applyRebuild(view, first, range(3, 3, ['a']), 3), RebuildSupersededError);
      await assert.rejects(store.finishRebuild(view, first, [], 3), RebuildSupersededError);
      const { rebuild } = await store.checkpoint(view);
      assert.equal(rebuild?.generation, second);
      assert.equal(rebuild?.position, 0);
      assert.equal(await store.finishRebuild(view, second, range(1, 2, ['a']), 2), true);
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 2, positions: [1, 2] });
      await assert.rejects(store.applyRebuild(view, second, [], 3), RebuildSupersededError);
    });

    it('reads the generation another client switched to', async () => {
      const other = opened.another ? await opened.another() : store;
      if (other !== store) others.push(other);
      const view = fresh();
      await store.prepare(view);
      await store.apply(view, range(1, 3, ['a']), 3);
      assert.equal((await store.get<Counter>(view, 'a'))?.count, 3);
      const generation = await other.startRebuild(view);
      assert.equal(await other.finishRebuild(view, generation, [recorded(3, 'a')], 3), true);
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 1, positions: [3] });
      assert.equal((await store.list(view, { offset: 0, limit: 10, descending: false })).total, 1);
      assert.equal(await store.apply(view, [recorded(4, 'a')], 4), 4);
      assert.deepEqual(await other.get(view, 'a'), { id: 'a', count: 2, positions: [3, 4] });
    });

    it('applies each event once when several projectors race over the same events', async () => {
      while (opened.another && others.length < 2) others.push(await opened.another());
      const projectors = [store, ...others];
      const view = fresh();
      for (const projector of projectors) await projector.prepare(view);
      const ids = ['a', 'b', 'c', 'd', 'e'];
      const events = range(1, 300, ids);
      /** Each projector walks the whole log in batches of its own size, as a runner would. */
      const walk = async (projector: ReadModelStore, size: number) => {
        let position = 0;
        while (position < events.length) {
          const batch = events.slice(position, position + size);
          position = await projector.apply(view, batch, batch[batch.length - 1].position);
        }
      };
      await Promise.all(
        [7, 11, 13, 17, 19, 23].map((size, i) => walk(projectors[i % projectors.length], size)),
      );
      let total = 0;
      for (const id of ids) {
        const doc = await store.get(view, id);
        assert.ok(doc, `document ${id}`);
        const expected = events.filter((e) => e.data!.id === id).map((e) => e.position);
        assert.deepEqual(doc.positions, expected, `document ${id} got each of its events once, in order`);
        total += doc.count;
      }
      assert.equal(total, events.length);
      assert.equal((await store.checkpoint(view)).position, 300);
    });
  });
}
