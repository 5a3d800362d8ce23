import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NewEvent } from '../../src/event-store/event-store.port';
import { DocumentProjection } from '../../src/event-store/read-model.port';
import { SqliteStore } from '../../src/event-store/sqlite/sqlite-store.adapter';
import { Stores } from '../../src/event-store/stores';
import { ProjectionsService } from '../../src/projections/projections.service';

interface Noted {
  id: string;
  positions: number[];
}

const NOTED = 'test.noted';
const noted = (id: string): NewEvent => ({
  eventId: randomUUID(),
  type: NOTED,
  data: { id },
  metadata: { resourceOwner: 'org-1', creator: 'tester', correlationId: randomUUID() },
  createdAt: new Date(),
});

/** A view of the positions of each document's events; it throws on the events `fails` names. */
const notes = (name: string, fails: (position: number) => boolean = () => false): DocumentProjection<Noted> => ({
  name,
  version: 1,
  eventTypes: [NOTED],
  documentId: (event) => event.data!.id as string,
  evolve(doc, event) {
    if (fails(event.position)) throw new Error(`cannot note ${event.position}`);
    return { id: event.data!.id as string, positions: [...(doc?.positions ?? []), event.position] };
  },
});

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 10_000; !(await done()); await sleep(10)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
  }
}

describe('ProjectionsService', () => {
  let dir: string;
  const closing: Array<() => Promise<unknown>> = [];
  before(() => (dir = mkdtempSync(join(tmpdir(), 'mfa-projections-'))));
  after(async () => {
    for (const close of closing.reverse()) await close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Events in one file and views in another, as with EventStoreDB: the views follow the log. */
  const following = (name: string) => {
    const events = new SqliteStore(join(dir, `${name}-events.sqlite`), { inline: [] });
    const readModels = new SqliteStore(join(dir, `${name}-views.sqlite`));
    const stores: Stores = { events, readModels, inline: false, close: async () => (await events.close(), await readModels.close()) };
    closing.push(() => stores.close());
    return stores;
  };
  const started = async (stores: Stores, views: DocumentProjection[]) => {
    const service = new ProjectionsService(stores, views);
    await service.onApplicationBootstrap();
    closing.push(() => service.onApplicationShutdown());
    return service;
  };

  describe('with views that follow the log', () => {
    it('catches them up at start, follows new events, and lets a write wait until they show it', async () => {
      const stores = following('follow');
      const view = notes('follow');
      await stores.events.append('s-1', 'no_stream', [noted('a'), noted('b')]);
      const service = await started(stores, [view]);
      assert.deepEqual((await stores.readModels.get(view, 'a'))?.positions, [1]);
      const appended = await stores.events.append('s-1', 1, [noted('a')]);
      await service.waitFor(appended.position);
      assert.deepEqual((await stores.readModels.get(view, 'a'))?.positions, [1, 3]);
      const [status] = await service.describe();
      assert.equal(status.position, 3);
      assert.equal(status.lagEvents, 0);
    });

    it('stops a view at an event it cannot apply, lets the others and the writes go on, and retries it at the next start', async () => {
      const stores = following('failing');
      const healthy = notes('healthy');
      await stores.events.append('s-1', 'no_stream', [noted('a'), noted('a')]);
      const service = await started(stores, [notes('fragile', (p) => p === 4), healthy]);
      const appended = await stores.events.append('s-1', 1, [noted('a'), noted('a'), noted('a')]);
      await service.waitFor(appended.position);
      assert.deepEqual((await stores.readModels.get(healthy, 'a'))?.positions, [1, 2, 3, 4, 5]);
      const [fragile] = await service.describe();
      assert.equal(fragile.position, 3, 'every event before it is applied');
      assert.equal(fragile.failure?.position, 4);
      assert.match(fragile.failure?.message ?? '', /cannot note 4/);
      assert.deepEqual((await stores.readModels.get(notes('fragile'), 'a'))?.positions, [1, 2, 3]);
      await service.onApplicationShutdown();

      // The fix is deployed: the view goes on from the event it stopped at.
      const fixed = await started(stores, [notes('fragile'), healthy]);
      const [again] = await fixed.describe();
      assert.equal(again.failure, null);
      assert.equal(again.position, 5);
      assert.deepEqual((await stores.readModels.get(notes('fragile'), 'a'))?.positions, [1, 2, 3, 4, 5]);
    });
  });

  describe('with views written by each append', () => {
    it('catches a new view up with the events before it at start; then each append writes it, and nothing waits', async () => {
      const file = join(dir, 'inline.sqlite');
      const before = new SqliteStore(file, { inline: [] });
      await before.append('s-1', 'no_stream', [noted('a'), noted('b')]);
      await before.close();
      const view = notes('inline');
      const store = new SqliteStore(file, { inline: [view] });
      const stores: Stores = { events: store, readModels: store, inline: true, close: () => store.close() };
      closing.push(() => store.close());
      const service = await started(stores, [view]);
      assert.deepEqual((await store.get(view, 'b'))?.positions, [2]);
      const appended = await store.append('s-1', 1, [noted('b')]);
      assert.deepEqual((await store.get(view, 'b'))?.positions, [2, 3], 'in the append, before anything waits');
      await service.waitFor(appended.position + 1000);
    });

    it('rebuilds a view into a new generation that takes over, clearing a failure; reads meanwhile answer from the old one', async () => {
      const view = notes('rebuilt');
      const store = new SqliteStore(join(dir, 'rebuild.sqlite'), { inline: [view] });
      const stores: Stores = { events: store, readModels: store, inline: true, close: () => store.close() };
      closing.push(() => store.close());
      await store.append('s-1', 'no_stream', [noted('a'), noted('a'), noted('a'), noted('a')]);
      const service = await started(stores, [view]);
      await store.recordFailure(view, 0, { position: 9, eventType: NOTED, streamId: 's-1', message: 'stopped', at: new Date() });
      assert.equal(await service.rebuild('rebuilt'), 1);
      await until('the new generation answers', async () => (await store.checkpoint(view)).generation === 1);
      const [status] = await service.describe();
      assert.equal(status.failure, null);
      assert.equal(status.rebuild, null);
      assert.deepEqual((await store.get(view, 'a'))?.positions, [1, 2, 3, 4]);
      await store.append('s-1', 3, [noted('a')]);
      assert.deepEqual((await store.get(view, 'a'))?.positions, [1, 2, 3, 4, 5]);
    });

    it('stops a rebuild at an event it cannot apply; the old generation keeps answering', async () => {
      const store = new SqliteStore(join(dir, 'rebuild-fails.sqlite'), { inline: [notes('unlucky')] });
      const stores: Stores = { events: store, readModels: store, inline: true, close: () => store.close() };
      closing.push(() => store.close());
      await store.append('s-1', 'no_stream', [noted('a'), noted('a')]);
      const service = await started(stores, [notes('unlucky', (p) => p === 2)]);
      // Written by the appends before this code ran; the rebuild with this code meets an event it cannot apply.
      await service.rebuild('unlucky');
      await until('the rebuild stopped', async () => (await store.checkpoint(notes('unlucky'))).rebuild?.failure?.position === 2);
      const checkpoint = await store.checkpoint(notes('unlucky'));
      assert.equal(checkpoint.generation, 0);
      assert.deepEqual((await store.get(notes('unlucky'), 'a'))?.positions, [1, 2]);
    });
  });
});
