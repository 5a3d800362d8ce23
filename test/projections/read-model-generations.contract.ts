import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RecordedEvent } from '../../src/event-store/event-store.port';
import {
  DocumentProjection,
  ReadModelStore,
  RebuildSupersededError,
} from '../../src/projections/read-model-store.port';
import { OpenedReadModels } from '../store-contract/store-openers';

interface Tally {
  id: string;
  positions: number[];
}

const TALLIED = 'generations.tallied';

function tallyProjection(name: string): DocumentProjection<Tally> {
  return {
    name,
    version: 1,
    eventTypes: [TALLIED],
    documentId: (event) => String(event.data!.id),
    evolve: (doc, event) => ({ id: String(event.data!.id), positions: [...(doc?.positions ?? []), event.position] }),
  };
}

function tallied(position: number, id: string): RecordedEvent {
  return {
    eventId: randomUUID(),
    streamId: `tally-${id}`,
    revision: 0,
    position,
    type: TALLIED,
    data: { id },
    metadata: { resourceOwner: 'org-1', creator: 'user-1', correlationId: 'c' },
    createdAt: new Date(1_700_000_000_000 + position * 1000),
  };
}

/** Events at positions from..to, alternating between documents a and b. */
const range = (from: number, to: number): RecordedEvent[] =>
  Array.from({ length: to - from + 1 }, (_, i) => tallied(from + i, (from + i) % 2 ? 'a' : 'b'));

const positionsOf = (events: readonly RecordedEvent[], id: string) => events.filter((e) => e.data!.id === id).map((e) => e.position);

/**
 * How every ReadModelStore keeps generations: reads and applies go to the active generation, a
 * rebuild fills the next one beside it and switches over atomically once it has caught up.
 */
export function readModelGenerationsContract(name: string, open: () => Promise<OpenedReadModels>): void {
  describe(`read model generations: ${name}`, () => {
    let opened: OpenedReadModels;
    let store: ReadModelStore;
    const others: ReadModelStore[] = [];
    const run = randomUUID().slice(0, 8);
    let views = 0;
    const fresh = () => tallyProjection(`gen_${run}_${++views}`);

    before(async () => {
      opened = await open();
      store = opened.store;
    });
    after(async () => {
      for (const other of others) await other.close();
      await opened?.cleanup();
    });

    it('starts at generation 0 with no rebuild', async () => {
      const view = fresh();
      await store.prepare(view);
      const checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, 0);
      assert.equal(checkpoint.rebuild, null);
      assert.equal(checkpoint.failure, null);
    });

    it('fills a new generation beside the active one, which keeps answering reads until the switch', async () => {
      const view = fresh();
      await store.prepare(view);
      const log = range(1, 10);
      await store.apply(view, log, 10);
      const generation = await store.startRebuild(view);
      assert.equal(generation, 1);
      let checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, 0);
      assert.equal(checkpoint.rebuild?.generation, 1);
      assert.equal(checkpoint.rebuild?.position, 0);

      assert.equal(await store.applyRebuild(view, generation, log.slice(0, 4), 4), 4);
      // Half built: reads still come from generation 0, whole.
      assert.deepEqual((await store.get(view, 'a'))?.positions, positionsOf(log, 'a'));
      assert.deepEqual((await store.list(view, { offset: 0, limit: 10, descending: false })).total, 2);
      checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.position, 10, 'the active checkpoint is the active generation’s');
      assert.equal(checkpoint.rebuild?.position, 4);
      assert.equal(checkpoint.rebuild?.lastEventAt?.getTime(), log[3].createdAt.getTime());

      // A retried batch is harmless in the new generation too.
      assert.equal(await store.applyRebuild(view, generation, log.slice(0, 6), 6), 6);
      assert.equal(await store.finishRebuild(view, generation, log.slice(6), 10), true);
      checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, 1);
      assert.equal(checkpoint.position, 10);
      assert.equal(checkpoint.rebuild, null);
      assert.deepEqual((await store.get(view, 'a'))?.positions, positionsOf(log, 'a'));
      assert.deepEqual((await store.get(view, 'b'))?.positions, positionsOf(log, 'b'));
    });

    it('does not switch while the active generation is ahead, and never moves reads back', async () => {
      const view = fresh();
      await store.prepare(view);
      const log = range(1, 12);
      await store.apply(view, log.slice(0, 8), 8);
      const generation = await store.startRebuild(view);
      assert.equal(await store.finishRebuild(view, generation, log.slice(0, 6), 6), false);
      let checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, 0);
      assert.equal(checkpoint.rebuild?.position, 6, 'the batch was applied to the new generation anyway');
      // Meanwhile the active generation moves on.
      await store.apply(view, log.slice(8, 10), 10);
      assert.equal(await store.finishRebuild(view, generation, log.slice(6, 8), 8), false);
      assert.equal(await store.finishRebuild(view, generation, log.slice(8, 12), 12), true);
      checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, generation);
      assert.equal(checkpoint.position, 12);
      assert.deepEqual((await store.get(view, 'b'))?.positions, positionsOf(log, 'b'));
    });

    it('lets a newer rebuild supersede one under way; generation numbers are never reused', async () => {
      const view = fresh();
      await store.prepare(view);
      const log = range(1, 6);
      await store.apply(view, log, 6);
      const first = await store.startRebuild(view);
      await store.applyRebuild(view, first, log.slice(0, 3), 3);
      const second = await store.startRebuild(view);
      assert.equal(second, first + 1);
      await assert.rejects(store.applyRebuild(view, first, log.slice(3), 6), RebuildSupersededError);
      await assert.rejects(store.finishRebuild(view, first, log.slice(3), 6), RebuildSupersededError);
      assert.equal((await store.checkpoint(view)).rebuild?.position, 0, 'the new rebuild starts from the first event');
      assert.equal(await store.finishRebuild(view, second, log, 6), true);
      const third = await store.startRebuild(view);
      assert.equal(third, second + 1);
      await assert.rejects(store.applyRebuild(view, second, [], 6), RebuildSupersededError, 'a switched-to generation is not being built');
    });

    it('applies to whichever generation is active, also when another client switched it', async () => {
      const view = fresh();
      const cli = await opened.another();
      others.push(cli);
      await store.prepare(view);
      await cli.prepare(view);
      const log = range(1, 9);
      await store.apply(view, log.slice(0, 5), 5);
      assert.deepEqual((await store.get(view, 'a'))?.positions, positionsOf(log.slice(0, 5), 'a'));

      const generation = await cli.startRebuild(view);
      assert.equal(await cli.finishRebuild(view, generation, log.slice(0, 5), 5), true);
      // The first client learns of the switch by itself: its next write and read use the new generation.
      assert.equal(await store.apply(view, log.slice(5), 9), 9);
      assert.deepEqual((await store.get(view, 'a'))?.positions, positionsOf(log, 'a'));
      assert.deepEqual((await cli.get(view, 'b'))?.positions, positionsOf(log, 'b'));
      assert.equal((await store.checkpoint(view)).generation, generation);
    });

    it('keeps a failure per generation, and a switch clears the active one’s', async () => {
      const view = fresh();
      await store.prepare(view);
      await store.apply(view, range(1, 2), 2);
      const failure = { position: 3, eventType: TALLIED, streamId: 'tally-a', message: 'broken', at: new Date(1_700_000_123_000) };
      await store.recordFailure(view, 0, failure);
      assert.deepEqual((await store.checkpoint(view)).failure, failure);
      const generation = await store.startRebuild(view);
      await store.recordFailure(view, generation, { ...failure, message: 'rebuild broken' });
      let checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.rebuild?.failure?.message, 'rebuild broken');
      assert.equal(checkpoint.failure?.message, 'broken');
      await store.recordFailure(view, generation, null);
      assert.equal(await store.finishRebuild(view, generation, range(1, 2), 2), true);
      checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.failure, null);
    });

    it('lists the active generation’s documents by id, with offset, limit, order and total', async () => {
      const view = fresh();
      await store.prepare(view);
      const log = ['c', 'a', 'd', 'b'].map((id, i) => tallied(i + 1, id));
      await store.apply(view, log, 4);
      const ids = async (offset: number, limit: number, descending: boolean) => {
        const { total, documents } = await store.list(view, { offset, limit, descending });
        return { total, ids: documents.map((doc) => doc.id) };
      };
      assert.deepEqual(await ids(0, 10, false), { total: 4, ids: ['a', 'b', 'c', 'd'] });
      assert.deepEqual(await ids(1, 2, true), { total: 4, ids: ['c', 'b'] });
      assert.deepEqual(await ids(0, 0, false), { total: 4, ids: [] });
    });
  });
}
