import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { WrongExpectedRevisionError } from '../../src/event-store/event-store.port';
import { DocumentProjection } from '../../src/event-store/read-model.port';
import { newEvent } from './event-store.contract';
import { COUNTED, Counter, countersProjection } from './read-model-store.contract';
import { StoreLocation } from './store-openers';

/** Document ids of one test: events of the other tests (which a new view catches up on) never touch them. */
const ids = () => {
  const test = randomUUID().slice(0, 8);
  return { a: `a-${test}`, b: `b-${test}`, c: `c-${test}` };
};
/** An event the counters projection counts for document `id`. */
const counted = (id: string, extra: Record<string, unknown> = {}) => newEvent(COUNTED, { id, ...extra });

/**
 * What the stores that hold events and read models in one database promise (SQLite, PostgreSQL):
 * the views named at open are written in the transaction of every append, so a read right after
 * an append shows it, and nothing of an append that failed shows anywhere.
 */
export function inlineViewsContract(name: string, locate: () => Promise<StoreLocation>): void {
  describe(`inline views: ${name}`, () => {
    let location: StoreLocation;
    const run = randomUUID().slice(0, 8);
    let views = 0;
    const fresh = (failAt?: number) => countersProjection(`inline_${run}_${++views}`, 1, failAt);
    const stream = () => `inline${run}-${randomUUID().slice(0, 8)}`;

    before(async () => {
      location = await locate();
    });
    after(async () => {
      await location?.cleanup();
    });

    it('writes a view and its checkpoint in the transaction of the append, so the next read shows it', async () => {
      const { a, b } = ids();
      const view = fresh();
      // A view these events do not touch, named first: it must not get in the way of the other one.
      const idle = { ...fresh(), eventTypes: ['contract.never'] };
      const store = await location.open([idle, view]);
      const result = await store.append(stream(), 'no_stream', [counted(a), counted(b), counted(a)]);
      assert.deepEqual(await store.get(view, a), { id: a, count: 2, positions: [result.events[0].position, result.events[2].position] });
      assert.equal((await store.checkpoint(view)).position, result.position);
      assert.equal((await store.checkpoint(idle)).position, result.position);
      // Another client sees it at once as well.
      const other = await location.open([view]);
      assert.equal((await other.get<Counter>(view, b))?.count, 1);
    });

    it('leaves no row and no event of an append whose transaction rolls back, and keeps the others of its group', async () => {
      const { a, b, c } = ids();
      // A document that cannot be stored fails the transaction after the events and the other rows were written.
      const base = fresh();
      const view: DocumentProjection<unknown> = {
        ...base,
        evolve: (doc, event) => (event.data?.poison ? { id: c, unstorable: 1n } : base.evolve(doc as Counter | null, event)),
      };
      const store = await location.open([view]);
      const [good, bad] = [stream(), stream()];
      const outcomes = await Promise.allSettled([
        store.append(good, 'no_stream', [counted(a)]),
        store.append(bad, 'no_stream', [counted(b), counted(c, { poison: true })]),
      ]);
      assert.equal(outcomes[0].status, 'fulfilled');
      assert.equal(outcomes[1].status, 'rejected');
      assert.equal((await store.readStream(bad)).revision, 'no_stream', 'no event of the failed append');
      assert.equal(await store.get(view as DocumentProjection<Counter>, b), null, 'no row of the failed append');
      assert.equal((await store.get(view as DocumentProjection<Counter>, a))?.count, 1);
      const { position } = (outcomes[0] as PromiseFulfilledResult<{ position: number }>).value;
      assert.equal((await store.checkpoint(view)).position, position);
    });

    it('writes nothing for an append refused on its expected revision', async () => {
      const { a } = ids();
      const view = fresh();
      const store = await location.open([view]);
      const id = stream();
      await store.append(id, 'no_stream', [counted(a)]);
      await assert.rejects(store.append(id, 'no_stream', [counted(a)]), WrongExpectedRevisionError);
      assert.equal((await store.get<Counter>(view, a))?.count, 1);
    });

    it('stops a view whose evolve throws at that event; the append and the other views go on', async () => {
      const { a } = ids();
      const name = `inline_${run}_${++views}`;
      const healthy = fresh();
      const probe = await location.open([]);
      const failAt = (await probe.headPosition()) + 2;
      const store = await location.open([countersProjection(name, 1, failAt), healthy]);
      const result = await store.append(stream(), 'no_stream', [counted(a), counted(a), counted(a)]);
      assert.equal(result.events[1].position, failAt);
      const broken = countersProjection(name);
      const checkpoint = await store.checkpoint(broken);
      assert.equal(checkpoint.failure?.position, failAt);
      assert.equal(checkpoint.position, failAt - 1);
      assert.equal((await store.get<Counter>(broken, a))?.count, 1, 'the events before it are applied');
      assert.equal((await store.get<Counter>(healthy, a))?.count, 3);
      // Stopped: later appends leave it alone until its failure is cleared.
      await store.append(stream(), 'no_stream', [counted(a)]);
      assert.equal((await store.get<Counter>(broken, a))?.count, 1);
      assert.equal((await store.get<Counter>(healthy, a))?.count, 4);
    });

    it('applies first the events another client appended without the view', async () => {
      const { a, b } = ids();
      const view = fresh();
      const withView = await location.open([view]);
      const without = await location.open([]);
      await withView.append(stream(), 'no_stream', [counted(a)]);
      await without.append(stream(), 'no_stream', [counted(a), counted(b)]);
      assert.equal((await withView.get<Counter>(view, a))?.count, 1, 'not applied by a client that does not know the view');
      const last = await withView.append(stream(), 'no_stream', [counted(a)]);
      assert.equal((await withView.get<Counter>(view, a))?.count, 3);
      assert.equal((await withView.get<Counter>(view, b))?.count, 1);
      assert.equal((await withView.checkpoint(view)).position, last.position);
    });

    it('switches a rebuild with the events appended after its last batch, so it never goes back in time', async () => {
      const { a } = ids();
      const view = fresh();
      const store = await location.open([view]);
      const head = await store.headPosition();
      await store.append(stream(), 'no_stream', [counted(a), counted(a)]);
      const generation = await store.startRebuild(view);
      const batch = (await store.readAll({ after: 0, limit: 100_000 })).filter((e) => e.position > head);
      // Appended (inline, into the active generation) after the rebuild read its last batch.
      const later = await store.append(stream(), 'no_stream', [counted(a)]);
      const step = await store.applyRebuild(view, generation, batch, batch[batch.length - 1].position, true);
      assert.ok(step !== 'superseded' && step.switched, 'switched');
      assert.equal(step.position, later.position);
      const checkpoint = await store.checkpoint(view);
      assert.equal(checkpoint.generation, generation);
      assert.equal(checkpoint.position, later.position);
      assert.equal((await store.get<Counter>(view, a))?.count, 3);
      await store.append(stream(), 'no_stream', [counted(a)]);
      assert.equal((await store.get<Counter>(view, a))?.count, 4, 'appends write the new generation');
    });
  });
}
