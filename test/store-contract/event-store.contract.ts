import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  EventStore,
  ExpectedRevision,
  NewEvent,
  RecordedEvent,
  WrongExpectedRevisionError,
} from '../../src/event-store/event-store.port';

/**
 * What `open` gives the contract. The store may already hold events (a shared server): every test
 * uses streams of its own and positions relative to the head it found, never absolute ones.
 */
export interface OpenedEventStore {
  store: EventStore;
  /** Closes `store` and removes whatever `open` created. */
  cleanup(): Promise<void>;
  /**
   * Another client of the same store, as a second process would open it. When given, the
   * concurrency tests spread writers and readers over several clients; the contract closes them.
   */
  another?(): Promise<EventStore>;
}

/** One event of the contract's own making; `createdAt` has milliseconds so precision shows. */
export function newEvent(type = 'contract.tested', data: Record<string, unknown> | null = { n: 1 }): NewEvent {
  return {
    eventId: randomUUID(),
    type,
    data,
    metadata: { resourceOwner: 'org-1', creator: 'user-1', correlationId: randomUUID() },
    createdAt: new Date(1718261075847),
  };
}

/** Every event after `after`, page by page. */
export async function readAllFrom(store: EventStore, after: number): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after, limit: 250 });
    if (page.length === 0) return all;
    all.push(...page);
    after = page[page.length - 1].position;
  }
}

/** Asserts that `promise` fails with WrongExpectedRevisionError carrying these facts. */
async function rejectsWrongRevision(
  promise: Promise<unknown>,
  streamId: string,
  expected: ExpectedRevision,
  actual: number | 'no_stream',
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof WrongExpectedRevisionError, `expected WrongExpectedRevisionError, got ${String(error)}`);
    assert.equal(error.streamId, streamId);
    assert.equal(error.expected, expected);
    assert.equal(error.actual, actual);
    return true;
  });
}

function assertStrictlyIncreasing(positions: readonly number[], what: string): void {
  for (let i = 1; i < positions.length; i++) {
    assert.ok(positions[i] > positions[i - 1], `${what}: position ${positions[i]} follows ${positions[i - 1]}`);
  }
}

/** Listens from now on; `until` resolves once a told position reaches the one given. */
function listen(store: EventStore, timeoutMs = 5000) {
  let highest = 0;
  let waiting: { position: number; resolve: (p: number) => void } | null = null;
  const stop = store.onAppended((position) => {
    highest = Math.max(highest, position);
    if (waiting && highest >= waiting.position) waiting.resolve(highest);
  });
  return {
    until(position: number): Promise<number> {
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          stop();
          reject(new Error(`onAppended was not told of position ${position} within ${timeoutMs} ms (heard ${highest})`));
        }, timeoutMs);
        waiting = { position, resolve: (p) => (clearTimeout(timer), stop(), resolve(p)) };
        if (highest >= position) waiting.resolve(highest);
      });
    },
  };
}

/**
 * The contract every EventStore backend keeps. Backends: test/store-contract/*.contract.spec.ts.
 */
export function eventStoreContract(name: string, open: () => Promise<OpenedEventStore>): void {
  describe(`event store contract: ${name}`, () => {
    let opened: OpenedEventStore;
    let store: EventStore;
    const others: EventStore[] = [];
    /** Streams of this run only, so a shared store's other events never count. */
    const run = randomUUID().slice(0, 8);
    let streams = 0;
    const stream = () => `contract${run}-${++streams}`;
    const ours = (event: RecordedEvent) => event.streamId.startsWith(`contract${run}-`);

    before(async () => {
      opened = await open();
      store = opened.store;
    });
    after(async () => {
      for (const other of others) await other.close();
      await opened?.cleanup();
    });

    /** The clients the concurrency tests use: the store and, where possible, two more. */
    async function clients(): Promise<EventStore[]> {
      if (!opened.another) return [store];
      while (others.length < 2) others.push(await opened.another());
      return [store, ...others];
    }

    it('appends to a new stream with no_stream, from revision 0', async () => {
      const id = stream();
      const head = await store.headPosition();
      const event = newEvent();
      const result = await store.append(id, 'no_stream', [event]);
      assert.equal(result.revision, 0);
      assert.ok(result.position > head, `position ${result.position} is after the head ${head}`);
      assert.equal(result.events.length, 1);
      assert.deepEqual(result.events[0], { ...event, streamId: id, revision: 0, position: result.position });
      const read = await store.readStream(id);
      assert.equal(read.revision, 0);
      assert.deepEqual(read.events, result.events);
    });

    it('appends with the right expected revision, several events at once', async () => {
      const id = stream();
      await store.append(id, 'no_stream', [newEvent()]);
      const result = await store.append(id, 0, [newEvent('contract.a'), newEvent('contract.b')]);
      assert.equal(result.revision, 2);
      assert.deepEqual(
        result.events.map((e) => [e.revision, e.type]),
        [
          [1, 'contract.a'],
          [2, 'contract.b'],
        ],
      );
      assert.equal(result.position, result.events[1].position);
      assert.ok(result.events[1].position > result.events[0].position);
      const third = await store.append(id, 2, [newEvent()]);
      assert.equal(third.revision, 3);
      assert.equal((await store.readStream(id)).revision, 3);
    });

    it('rejects a wrong expected revision, telling the actual one', async () => {
      const id = stream();
      await store.append(id, 'no_stream', [newEvent(), newEvent()]);
      await rejectsWrongRevision(store.append(id, 0, [newEvent()]), id, 0, 1);
      await rejectsWrongRevision(store.append(id, 2, [newEvent()]), id, 2, 1);
      await rejectsWrongRevision(store.append(id, 7, [newEvent()]), id, 7, 1);
    });

    it('rejects an expected revision on a missing stream, telling no_stream', async () => {
      const id = stream();
      await rejectsWrongRevision(store.append(id, 0, [newEvent()]), id, 0, 'no_stream');
      assert.deepEqual(await store.readStream(id), { events: [], revision: 'no_stream' });
    });

    it('rejects no_stream on an existing stream', async () => {
      const id = stream();
      await store.append(id, 'no_stream', [newEvent()]);
      await rejectsWrongRevision(store.append(id, 'no_stream', [newEvent()]), id, 'no_stream', 0);
    });

    it("appends with 'any' to a new and to an existing stream", async () => {
      const id = stream();
      const first = await store.append(id, 'any', [newEvent()]);
      assert.equal(first.revision, 0);
      const second = await store.append(id, 'any', [newEvent(), newEvent()]);
      assert.equal(second.revision, 2);
      assert.deepEqual(
        (await store.readStream(id)).events.map((e) => e.revision),
        [0, 1, 2],
      );
    });

    it('appends nothing on a conflict', async () => {
      const id = stream();
      const before = await store.append(id, 'no_stream', [newEvent()]);
      const head = await store.headPosition();
      await rejectsWrongRevision(store.append(id, 5, [newEvent(), newEvent(), newEvent()]), id, 5, 0);
      await rejectsWrongRevision(store.append(id, 'no_stream', [newEvent(), newEvent()]), id, 'no_stream', 0);
      const read = await store.readStream(id);
      assert.equal(read.revision, 0);
      assert.deepEqual(read.events, before.events);
      assert.equal(await store.headPosition(), head);
      assert.deepEqual((await readAllFrom(store, head)).filter(ours), []);
    });

    it('appends issued together succeed or fail each on their own', async () => {
      const [a, b, c] = [stream(), stream(), stream()];
      await store.append(b, 'no_stream', [newEvent()]);
      // Issued in one turn of the event loop, so a backend that groups appends groups these.
      const outcomes = await Promise.allSettled([
        store.append(a, 'no_stream', [newEvent()]),
        store.append(b, 'no_stream', [newEvent()]),
        store.append(c, 'no_stream', [newEvent(), newEvent()]),
        store.append(a, 'no_stream', [newEvent()]),
      ]);
      assert.equal(outcomes[0].status, 'fulfilled');
      assert.equal(outcomes[1].status, 'rejected');
      assert.ok((outcomes[1] as PromiseRejectedResult).reason instanceof WrongExpectedRevisionError);
      assert.equal(outcomes[2].status, 'fulfilled');
      assert.equal(outcomes[3].status, 'rejected');
      assert.ok((outcomes[3] as PromiseRejectedResult).reason instanceof WrongExpectedRevisionError);
      assert.equal((await store.readStream(a)).events.length, 1);
      assert.equal((await store.readStream(b)).events.length, 1);
      assert.equal((await store.readStream(c)).events.length, 2);
    });

    it('reads a stream in order with 0-based revisions, and a missing stream as no_stream', async () => {
      const id = stream();
      const other = stream();
      await store.append(id, 'no_stream', [newEvent('contract.n', { n: 0 })]);
      await store.append(other, 'no_stream', [newEvent()]);
      await store.append(id, 0, [newEvent('contract.n', { n: 1 }), newEvent('contract.n', { n: 2 })]);
      await store.append(id, 2, [newEvent('contract.n', { n: 3 })]);
      const read = await store.readStream(id);
      assert.equal(read.revision, 3);
      assert.deepEqual(
        read.events.map((e) => [e.streamId, e.revision, e.data]),
        [0, 1, 2, 3].map((n) => [id, n, { n }]),
      );
      assertStrictlyIncreasing(
        read.events.map((e) => e.position),
        'readStream',
      );
      assert.deepEqual(await store.readStream(stream()), { events: [], revision: 'no_stream' });
    });

    it('reads a stream from a revision on, still telling its last revision', async () => {
      const id = stream();
      await store.append(id, 'no_stream', [0, 1, 2, 3].map((n) => newEvent('contract.n', { n })));
      const tail = await store.readStream(id, { fromRevision: 2 });
      assert.equal(tail.revision, 3);
      // An adapter may return more than asked; never less.
      assert.deepEqual(
        tail.events.filter((e) => e.revision >= 2).map((e) => e.data),
        [{ n: 2 }, { n: 3 }],
      );
      const past = await store.readStream(id, { fromRevision: 9 });
      assert.equal(past.revision, 3);
      assert.deepEqual(past.events.filter((e) => e.revision >= 9), []);
      assert.equal((await store.readStream(stream(), { fromRevision: 1 })).revision, 'no_stream');
    });

    it('reads a stream a page at a time', async () => {
      const id = stream();
      await store.append(id, 'no_stream', [0, 1, 2, 3, 4, 5, 6].map((n) => newEvent('contract.n', { n })));
      const pages: number[][] = [];
      for (const from of [0, 3, 6]) {
        const page = await store.readStream(id, { fromRevision: from, maxCount: 3 });
        // An adapter may return more than asked; never less.
        pages.push(page.events.filter((e) => e.revision >= from).slice(0, 3).map((e) => e.data!.n as number));
        if (from === 6) assert.equal(page.revision, 6, 'a short page ends at the stream\'s last revision');
      }
      assert.deepEqual(pages, [[0, 1, 2], [3, 4, 5], [6]]);
      const past = await store.readStream(id, { fromRevision: 7, maxCount: 3 });
      assert.deepEqual(past.events.filter((e) => e.revision >= 7), []);
      assert.equal(past.revision, 6);
    });

    it('reads all after a position, in order, up to a limit', async () => {
      const id = stream();
      const written = (
        await store.append(id, 'no_stream', [1, 2, 3, 4, 5].map((n) => newEvent('contract.n', { n })))
      ).events;
      const page = await store.readAll({ after: written[0].position, limit: 2 });
      assert.deepEqual(page, written.slice(1, 3));
      const rest = await store.readAll({ after: written[2].position, limit: 100 });
      assert.deepEqual(rest.filter(ours), written.slice(3));
      assert.deepEqual(await store.readAll({ after: written[4].position, limit: 10 }), []);
      const fromBefore = await store.readAll({ after: written[0].position - 1, limit: 1 });
      assert.deepEqual(fromBefore, written.slice(0, 1));
    });

    it('gives every event a strictly increasing position across streams', async () => {
      const head = await store.headPosition();
      const results = [];
      for (let i = 0; i < 6; i++) results.push(await store.append(stream(), 'no_stream', [newEvent(), newEvent()]));
      const positions = results.flatMap((r) => r.events.map((e) => e.position));
      assert.ok(positions[0] > head);
      assertStrictlyIncreasing(positions, 'appends');
      const read = (await readAllFrom(store, head)).filter(ours);
      assert.deepEqual(
        read.map((e) => e.position),
        positions,
      );
    });

    it('keeps data, metadata and createdAt (to the millisecond) as given', async () => {
      const id = stream();
      const data = {
        text: 'Grüße, 🙂 "quoted" \\ back\nline',
        // Strings JSON carries that some databases' JSON types refuse.
        awkward: 'nul \u0000, lone surrogate \ud800, tab \t',
        number: 12.5,
        big: 9007199254740991,
        negative: -3,
        flag: false,
        nothing: null,
        list: [1, 'two', { three: 3 }],
        nested: { deeper: { deepest: ['x'] } },
      };
      const events: NewEvent[] = [
        { ...newEvent('contract.data', data), createdAt: new Date('2024-06-13T06:44:35.847Z') },
        { ...newEvent('contract.empty', null), createdAt: new Date('1999-12-31T23:59:59.001Z') },
        {
          ...newEvent('contract.meta', {}),
          metadata: { resourceOwner: '69629023906488334', creator: 'ü-ser', correlationId: 'c-1' },
          createdAt: new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 999)),
        },
      ];
      const result = await store.append(id, 'no_stream', events);
      const stored = (await store.readStream(id)).events;
      const all = (await readAllFrom(store, result.events[0].position - 1)).filter((e) => e.streamId === id);
      for (const read of [result.events, stored, all]) {
        assert.equal(read.length, 3);
        read.forEach((recorded, i) => {
          assert.equal(recorded.eventId, events[i].eventId);
          assert.equal(recorded.type, events[i].type);
          assert.deepEqual(recorded.data, events[i].data);
          assert.deepEqual(recorded.metadata, events[i].metadata);
          assert.ok(recorded.createdAt instanceof Date);
          assert.equal(recorded.createdAt.toISOString(), events[i].createdAt.toISOString());
          assert.equal(typeof recorded.position, 'number');
          assert.equal(typeof recorded.revision, 'number');
        });
      }
    });

    it('tells onAppended listeners of new events, until they stop listening', async () => {
      const listener = listen(store);
      const result = await store.append(stream(), 'no_stream', [newEvent()]);
      assert.ok((await listener.until(result.position)) >= result.position);

      const heard: number[] = [];
      const stop = store.onAppended((position) => heard.push(position));
      stop();
      const stillListening = listen(store);
      const again = await store.append(stream(), 'no_stream', [newEvent()]);
      await stillListening.until(again.position);
      assert.deepEqual(heard, []);
    });

    it('reports the position of the last event as the head', async () => {
      const result = await store.append(stream(), 'no_stream', [newEvent(), newEvent()]);
      assert.equal(await store.headPosition(), result.position);
      const next = await store.append(stream(), 'no_stream', [newEvent()]);
      assert.equal(await store.headPosition(), next.position);
      assert.ok(next.position > result.position);
    });

    it('keeps one order and gap-free revisions under concurrent writers', async () => {
      const writers = await clients();
      const head = await store.headPosition();
      const ids = Array.from({ length: 20 }, stream);
      const appended: RecordedEvent[] = [];
      let conflicts = 0;
      const writer = async (client: EventStore) => {
        for (let i = 0; i < 50; i++) {
          const id = ids[Math.floor(Math.random() * ids.length)];
          for (;;) {
            const { revision } = await client.readStream(id);
            try {
              const result = await client.append(id, revision, [newEvent('contract.race', { i })]);
              appended.push(...result.events);
              break;
            } catch (error) {
              if (!(error instanceof WrongExpectedRevisionError)) throw error;
              conflicts++;
            }
          }
        }
      };
      const started = Date.now();
      await Promise.all(Array.from({ length: 10 }, (_, w) => writer(writers[w % writers.length])));
      const elapsed = Date.now() - started;
      assert.equal(appended.length, 500);

      const all = (await readAllFrom(store, head)).filter(ours);
      assert.equal(all.length, 500, 'readAll returns every appended event');
      assert.deepEqual(new Set(all.map((e) => e.eventId)), new Set(appended.map((e) => e.eventId)));
      assertStrictlyIncreasing(
        all.map((e) => e.position),
        'readAll',
      );
      const byPosition = new Map(appended.map((e) => [e.position, e]));
      for (const event of all) assert.deepEqual(byPosition.get(event.position), event);
      for (const id of ids) {
        const read = await store.readStream(id);
        assert.deepEqual(
          read.events.map((e) => e.revision),
          read.events.map((_, i) => i),
          `revisions of ${id}`,
        );
        assert.deepEqual(
          read.events,
          all.filter((e) => e.streamId === id),
        );
      }
      console.log(
        `# ${name}: 500 appends by 10 writers over ${writers.length} client(s) in ${elapsed} ms, ${conflicts} conflicts retried`,
      );
    });

    it('never lets a polling reader skip an event that commits late', async () => {
      const pool = await clients();
      const reader = pool[pool.length - 1];
      const head = await store.headPosition();
      const ids = Array.from({ length: 40 }, stream);
      let writing = true;
      const writer = async (client: EventStore, w: number) => {
        for (let i = 0; i < 40; i++) {
          const batch = 1 + ((w + i) % 3);
          await client.append(ids[(w * 7 + i) % ids.length], 'any', Array.from({ length: batch }, () => newEvent()));
        }
      };
      const seen = new Set<string>();
      let last = head;
      let polls = 0;
      const poll = async () => {
        const page = await reader.readAll({ after: last, limit: 50 });
        polls++;
        for (const event of page) {
          assert.ok(event.position > last, `readAll returned ${event.position} after ${last}`);
          last = event.position;
          if (ours(event)) seen.add(event.eventId);
        }
        return page.length;
      };
      const reading = (async () => {
        // A store that answers without I/O would otherwise starve the writers of the event loop.
        while (writing) {
          await poll();
          await yieldToEventLoop();
        }
      })();
      await Promise.all(Array.from({ length: 8 }, (_, w) => writer(pool[w % pool.length], w)));
      writing = false;
      await reading;
      while ((await poll()) > 0) await yieldToEventLoop();

      const all = (await readAllFrom(store, head)).filter(ours);
      assert.ok(all.length >= 8 * 40);
      const missed = all.filter((e) => e.position <= last && !seen.has(e.eventId));
      assert.deepEqual(
        missed.map((e) => e.position),
        [],
        `the reader (${polls} polls) skipped events that committed after it had read past them`,
      );
      assert.equal(seen.size, all.length);
    });
  });
}
