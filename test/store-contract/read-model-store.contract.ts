import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RecordedEvent } from '../../src/event-store/event-store.port';
import { DocumentProjection, ReadModelStore, tableOf } from '../../src/event-store/read-model.port';
import { OpenedStore } from './store-openers';

/** A document that remembers every event applied to it, so a double apply shows. */
export interface Counter {
  id: string;
  count: number;
  positions: number[];
}

export const COUNTED = 'contract.counted';
const RESET = 'contract.reset';

export function countersProjection(name: string, version = 1, failAt?: number): DocumentProjection<Counter> {
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

const positionsOf = (events: readonly RecordedEvent[], id: string) => events.filter((e) => e.data?.id === id).map((e) => e.position);

/** The contract every ReadModelStore backend keeps. Backends: test/store-contract/*.contract.spec.ts. */
export function readModelStoreContract(name: string, open: () => Promise<OpenedStore<ReadModelStore>>): void {
  describe(`read model store contract: ${name}`, () => {
    let opened: OpenedStore<ReadModelStore>;
    let store: ReadModelStore;
    const others: ReadModelStore[] = [];
    const run = randomUUID().slice(0, 8);
    let views = 0;
    /** A projection with a table of its own, so tests never share rows. */
    const fresh = (failAt?: number) => countersProjection(`contract_${run}_${++views}`, 1, failAt);
    /** Applies to one view; its position afterwards. */
    const apply = async (view: DocumentProjection, events: readonly RecordedEvent[], upTo: number) =>
      (await store.apply([view], events, upTo))[0].position;
    const rebuildStep = async (view: DocumentProjection, generation: number, events: readonly RecordedEvent[], upTo: number, finish = false) => {
      const step = await store.applyRebuild(view, generation, events, upTo, finish);
      return step === 'superseded' ? step : finish ? step.switched : step.position;
    };

    before(async () => {
      opened = await open();
      store = opened.store;
    });
    after(async () => {
      for (const other of others) await other.close();
      await opened?.cleanup();
    });

    it('prepares a table and a checkpoint at 0 in generation 0, and preparing again is harmless', async () => {
      const view = fresh();
      await store.prepare(view);
      await store.prepare(view);
      const checkpoint = await store.checkpoint(view);
      assert.deepEqual(
        { ...checkpoint, updatedAt: null },
        { position: 0, lastEventAt: null, updatedAt: null, generation: 0, failure: null, rebuild: null },
      );
      assert.equal(await store.get(view, 'nobody'), null);
      assert.deepEqual(await store.list(view, { offset: 0, limit: 10, descending: false }), { total: 0, documents: [] });
    });

    it('applies events to documents and moves the checkpoint in one step', async () => {
      const view = fresh();
      await store.prepare(view);
      const events = [recorded(3, 'a'), recorded(5, 'b'), recorded(8, 'a')];
      assert.deepEqual(await store.apply([view], events, 10), [{ position: 10, failure: null }]);
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 2, positions: [3, 8] });
      assert.deepEqual(await store.get(view, 'b'), { id: 'b', count: 1, positions: [5] });
      const checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.position, 10);
      assert.equal(checkpoint.lastEventAt?.getTime(), events[2].createdAt.getTime());
      assert.ok(checkpoint.updatedAt instanceof Date);
    });

    it('changes nothing when a batch at or before the checkpoint is applied again, and never moves back', async () => {
      const view = fresh();
      await store.prepare(view);
      const events = range(1, 6, ['a', 'b']);
      await apply(view, events, 6);
      const before = [await store.get(view, 'a'), await store.get(view, 'b')];
      assert.equal(await apply(view, events, 6), 6);
      assert.equal(await apply(view, events.slice(0, 3), 3), 6);
      assert.deepEqual([await store.get(view, 'a'), await store.get(view, 'b')], before);
      // From an overlapping batch, only the events after the checkpoint.
      assert.equal(await apply(view, range(5, 8, ['a', 'b']), 8), 8);
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 4, positions: [2, 4, 6, 8] });
    });

    it('removes a document evolve turns into null, skips events without one, and moves past other types', async () => {
      const view = fresh();
      await store.prepare(view);
      await apply(view, [recorded(1, 'a'), recorded(2, 'b'), recorded(3, null)], 3);
      await apply(view, [recorded(4, 'a', RESET)], 4);
      assert.equal(await store.get(view, 'a'), null);
      assert.deepEqual(await store.get(view, 'b'), { id: 'b', count: 1, positions: [2] });
      await apply(view, [recorded(5, 'a')], 5);
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 1, positions: [5] });
      assert.equal(await apply(view, [{ ...recorded(6, 'a'), type: 'contract.other' }], 40), 40);
      assert.equal((await store.checkpoint(view)).lastEventAt?.getTime(), recorded(5, 'a').createdAt.getTime());
    });

    it('stops a view at the event its evolve fails on, with the events before it applied and the failure kept', async () => {
      const name = `contract_${run}_${++views}`;
      await store.prepare(countersProjection(name));
      const failing = countersProjection(name, 1, 5);
      const [applied] = await store.apply([failing], range(1, 7, ['a', 'b']), 7);
      assert.equal(applied.position, 4);
      assert.equal(applied.failure?.position, 5);
      assert.equal(applied.failure?.eventType, COUNTED);
      assert.match(applied.failure?.message ?? '', /evolve fails at 5/);
      assert.deepEqual(await store.get(failing, 'a'), { id: 'a', count: 2, positions: [2, 4] });
      const checkpoint = await store.checkpoint(failing);
      assert.equal(checkpoint.position, 4);
      assert.deepEqual(checkpoint.failure, applied.failure);
      // A stopped view takes nothing more, fixed or not, until its failure is cleared.
      const fixed = countersProjection(name);
      assert.deepEqual(await store.apply([fixed], range(5, 7, ['a', 'b']), 7), [{ position: 4, failure: applied.failure }]);
      await store.recordFailure(fixed, 0, null);
      assert.equal(await apply(fixed, range(5, 7, ['a', 'b']), 7), 7);
      assert.deepEqual(await store.get(fixed, 'a'), { id: 'a', count: 3, positions: [2, 4, 6] });
    });

    it('applies several views in one call; one that fails stops alone', async () => {
      const first = fresh();
      const second = fresh(3);
      await store.prepare(first);
      await store.prepare(second);
      await apply(first, range(1, 1, ['a']), 1);
      const applied = await store.apply([first, second], range(1, 4, ['a']), 5);
      assert.deepEqual(applied[0], { position: 5, failure: null });
      assert.equal(applied[1].position, 2);
      assert.equal(applied[1].failure?.position, 3);
      assert.deepEqual(await store.get(first, 'a'), { id: 'a', count: 4, positions: [1, 2, 3, 4] }, 'events before its checkpoint skipped');
      assert.deepEqual(await store.get(second, 'a'), { id: 'a', count: 2, positions: [1, 2] });
    });

    it('keeps each version of a projection in its own table and checkpoint', async () => {
      const name = `contract_${run}_${++views}`;
      const [v1, v2] = [countersProjection(name, 1), countersProjection(name, 2)];
      assert.notEqual(tableOf(v1), tableOf(v2));
      await store.prepare(v1);
      await store.prepare(v2);
      await apply(v1, range(1, 3, ['a']), 3);
      assert.equal((await store.checkpoint(v2)).position, 0);
      assert.equal(await store.get(v2, 'a'), null);
      await apply(v2, range(1, 1, ['a']), 1);
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
      await apply(awkward, [{ ...recorded(1, 'a'), data: { id: 'a', text } }], 1);
      assert.deepEqual(await store.get(awkward, 'a'), { id: 'a', text });
      assert.deepEqual((await store.list(awkward, { offset: 0, limit: 1, descending: false })).documents, [{ id: 'a', text }]);
    });

    it('lists documents by id, in either order, a page at a time, with the total', async () => {
      const view = fresh();
      await store.prepare(view);
      const ids = ['b', 'a', 'd', 'c', 'e', '10', '9'];
      await apply(view, ids.map((id, i) => recorded(i + 1, id)), ids.length);
      const sorted = [...ids].sort();
      const page = await store.list<Counter>(view, { offset: 1, limit: 3, descending: false });
      assert.equal(page.total, ids.length);
      assert.deepEqual(page.documents.map((doc) => doc.id), sorted.slice(1, 4));
      const back = await store.list<Counter>(view, { offset: 0, limit: 2, descending: true });
      assert.deepEqual(back.documents.map((doc) => doc.id), [...sorted].reverse().slice(0, 2));
      assert.deepEqual((await store.list(view, { offset: 10, limit: 5, descending: false })).documents, []);
      assert.deepEqual((await store.list(view, { offset: 0, limit: 0, descending: false })).documents, []);
    });

    it('records a failure per generation, and clears it', async () => {
      const view = fresh();
      await store.prepare(view);
      const failure = { position: 7, eventType: COUNTED, streamId: 'counter-a', message: 'cannot apply', at: new Date('2024-06-13T06:44:35.847Z') };
      await store.recordFailure(view, 0, failure);
      assert.deepEqual((await store.checkpoint(view)).failure, failure);
      const generation = await store.startRebuild(view);
      await store.recordFailure(view, generation, { ...failure, message: 'rebuild broken' });
      let checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.rebuild?.failure?.message, 'rebuild broken');
      assert.equal(checkpoint.failure?.message, 'cannot apply');
      await store.recordFailure(view, generation, null);
      // A switch clears the active generation's failure.
      assert.equal(await rebuildStep(view, generation, [], 0, true), true);
      checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.failure, null);
    });

    it('rebuilds a view into a new generation beside the active one, which answers reads until the switch', async () => {
      const view = fresh();
      await store.prepare(view);
      const events = range(1, 10, ['a', 'b']);
      await apply(view, events.slice(0, 6), 6);
      const generation = await store.startRebuild(view);
      assert.equal(generation, 1);
      let checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, 0);
      assert.equal(checkpoint.rebuild?.generation, generation);
      assert.equal(checkpoint.rebuild?.position, 0);
      assert.ok(checkpoint.rebuild?.startedAt instanceof Date);

      assert.equal(await rebuildStep(view, generation, events.slice(0, 4), 4), 4);
      checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.rebuild?.position, 4);
      assert.equal(checkpoint.rebuild?.lastEventAt?.getTime(), events[3].createdAt.getTime());
      // A retried batch is harmless in the new generation too.
      assert.equal(await rebuildStep(view, generation, events.slice(0, 4), 4), 4);
      // The active generation answers reads meanwhile, and keeps taking events.
      assert.equal((await store.get<Counter>(view, 'a'))?.count, 3);
      await apply(view, events.slice(6, 8), 8);
      // Not as far as the active generation (8): applied, but no switch; reads never go back in time.
      assert.equal(await rebuildStep(view, generation, events.slice(4, 6), 6, true), false);
      assert.equal((await store.checkpoint(view)).generation, 0);
      assert.equal(await rebuildStep(view, generation, events.slice(6, 9), 9, true), true);

      checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, generation);
      assert.equal(checkpoint.position, 9);
      assert.equal(checkpoint.rebuild, null);
      assert.equal(checkpoint.lastEventAt?.getTime(), events[8].createdAt.getTime());
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 4, positions: positionsOf(events.slice(0, 9), 'a') });
      assert.deepEqual(await store.get(view, 'b'), { id: 'b', count: 5, positions: positionsOf(events.slice(0, 9), 'b') });
      // The new generation is the live one now.
      assert.equal(await apply(view, events.slice(9), 10), 10);
      assert.equal((await store.get<Counter>(view, 'a'))?.count, 5);
      assert.equal((await store.list(view, { offset: 0, limit: 10, descending: false })).total, 2);
      await store.prepare(view);
      assert.equal((await store.get<Counter>(view, 'a'))?.count, 5, 'preparing again keeps the active generation');
    });

    it('lets a newer rebuild supersede one under way; generation numbers are never reused', async () => {
      const view = fresh();
      await store.prepare(view);
      const first = await store.startRebuild(view);
      await rebuildStep(view, first, range(1, 2, ['a']), 2);
      const second = await store.startRebuild(view);
      assert.equal(second, first + 1);
      assert.equal(await rebuildStep(view, first, range(3, 3, ['a']), 3), 'superseded');
      assert.equal(await rebuildStep(view, first, [], 3, true), 'superseded');
      const { rebuild } = await store.checkpoint(view);
      assert.equal(rebuild?.generation, second);
      assert.equal(rebuild?.position, 0, 'the new rebuild starts from the first event');
      assert.equal(await rebuildStep(view, second, range(1, 2, ['a']), 2, true), true);
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 2, positions: [1, 2] });
      assert.equal(await rebuildStep(view, second, [], 3), 'superseded', 'a switched-to generation is not being built');
      assert.equal(await store.startRebuild(view), second + 1);
    });

    it('stops a rebuild at an event its evolve fails on; the active generation goes on answering', async () => {
      const name = `contract_${run}_${++views}`;
      const view = countersProjection(name);
      await store.prepare(view);
      await apply(view, range(1, 4, ['a']), 4);
      const generation = await store.startRebuild(view);
      const step = await store.applyRebuild(countersProjection(name, 1, 3), generation, range(1, 4, ['a']), 4, true);
      assert.ok(step !== 'superseded' && !step.switched && step.failure?.position === 3);
      const checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, 0);
      assert.equal(checkpoint.rebuild?.failure?.position, 3);
      assert.equal(checkpoint.rebuild?.position, 2);
      assert.equal((await store.get<Counter>(view, 'a'))?.count, 4);
    });

    it('reads and applies to the generation another client switched to', async () => {
      const other = await opened.another();
      others.push(other);
      const view = fresh();
      await store.prepare(view);
      await other.prepare(view);
      await apply(view, range(1, 3, ['a']), 3);
      assert.equal((await store.get<Counter>(view, 'a'))?.count, 3);
      const generation = await other.startRebuild(view);
      assert.equal((await other.applyRebuild(view, generation, [recorded(3, 'a')], 3, true)) !== 'superseded', true);
      assert.deepEqual(await store.get(view, 'a'), { id: 'a', count: 1, positions: [3] });
      assert.equal((await store.list(view, { offset: 0, limit: 10, descending: false })).total, 1);
      assert.equal(await apply(view, [recorded(4, 'a')], 4), 4);
      assert.deepEqual(await other.get(view, 'a'), { id: 'a', count: 2, positions: [3, 4] });
      assert.equal((await store.checkpoint(view)).generation, generation);
    });

    it('applies each event once when several projectors race over the same events', async () => {
      while (others.length < 2) others.push(await opened.another());
      const projectors = [store, ...others];
      const view = fresh();
      for (const projector of projectors) await projector.prepare(view);
      const ids = ['a', 'b', 'c', 'd', 'e'];
      const events = range(1, 300, ids);
      /** Each projector walks the whole log in batches of its own size, as a follower would. */
      const walk = async (projector: ReadModelStore, size: number) => {
        let position = 0;
        while (position < events.length) {
          const batch = events.slice(position, position + size);
          [{ position }] = await projector.apply([view], batch, batch[batch.length - 1].position);
        }
      };
      await Promise.all([7, 11, 13, 17, 19, 23].map((size, i) => walk(projectors[i % projectors.length], size)));
      let total = 0;
      for (const id of ids) {
        const doc = await store.get<Counter>(view, id);
        assert.ok(doc, `document ${id}`);
        assert.deepEqual(doc.positions, positionsOf(events, id), `document ${id} got each of its events once, in order`);
        total += doc.count;
      }
      assert.equal(total, events.length);
      assert.equal((await store.checkpoint(view)).position, 300);
    });
  });
}
