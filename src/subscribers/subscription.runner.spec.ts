import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { DiscoveryModule, NestFactory } from '@nestjs/core';
import { CqrsModule, EventsHandler, IEventHandler } from '@nestjs/cqrs';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EVENT_STORE, NewEvent } from '../event-store/event-store.port';
import { SqliteEventStore } from '../event-store/sqlite/sqlite-event-store.adapter';
import { READ_MODEL_STORE } from '../projections/read-model-store.port';
import { SqliteReadModelStore } from '../projections/sqlite/sqlite-read-model-store.adapter';
import { CommittedEvent, CommittedEvents } from './committed.event';
import { eventBusSubscription } from './event-bus.subscription';
import { SubscriptionRunner } from './subscription.runner';

const event = (n: number): NewEvent => ({
  eventId: randomUUID(),
  type: 'test.happened',
  data: { n },
  metadata: { resourceOwner: 'org-1', creator: 'tester', correlationId: randomUUID() },
  createdAt: new Date(),
});

/** What the subscribers saw, shared by the test and the handlers. */
const seen = {
  recorded: [] as number[],
  /** Whether each delivered event was already readable from the store when it arrived. */
  committed: [] as boolean[],
  /** Positions the flaky handler refuses, and how often it refused each. */
  refuse: new Map<number, number>(),
  refused: [] as number[],
  slowDone: [] as number[],
  /** What the batch subscriber handled, in order, and the batch sizes it got. */
  batched: [] as number[],
  batchSizes: [] as number[],
  /** Positions the batch subscriber refuses (a whole batch that holds one), and how often. */
  batchRefuse: new Map<number, number>(),
};

let events: SqliteEventStore;

@EventsHandler(CommittedEvent)
class RecordingSubscriber implements IEventHandler<CommittedEvent> {
  async handle({ event }: CommittedEvent): Promise<void> {
    const stored = await events.readAll({ after: event.position - 1, limit: 1 });
    seen.committed.push(stored[0]?.eventId === event.eventId);
    const left = seen.refuse.get(event.position);
    if (left) {
      seen.refuse.set(event.position, left - 1);
      seen.refused.push(event.position);
      throw new Error(`not now: ${event.position}`);
    }
    seen.recorded.push(event.position);
  }
}

/** Takes a while: the checkpoint must not move before it is done. */
@Injectable()
@EventsHandler(CommittedEvent)
class SlowSubscriber implements IEventHandler<CommittedEvent> {
  async handle({ event }: CommittedEvent): Promise<void> {
    await sleep(2);
    seen.slowDone.push(event.position);
  }
}

/** Takes batches: refuses a whole batch that holds a refused position. */
@EventsHandler(CommittedEvents)
class BatchSubscriber implements IEventHandler<CommittedEvents> {
  async handle({ events }: CommittedEvents): Promise<void> {
    for (const event of events) {
      const left = seen.batchRefuse.get(event.position);
      if (left) {
        seen.batchRefuse.set(event.position, left - 1);
        throw new Error(`batch not now: ${event.position}`);
      }
    }
    seen.batchSizes.push(events.length);
    for (const event of events) seen.batched.push(event.position);
  }
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe('SubscriptionRunner', () => {
  let dir: string;
  let readModels: SqliteReadModelStore;

  const start = async () => {
    @Module({
      imports: [CqrsModule.forRoot(), DiscoveryModule],
      providers: [
        { provide: EVENT_STORE, useValue: events },
        { provide: READ_MODEL_STORE, useValue: readModels },
        SubscriptionRunner,
        RecordingSubscriber,
        SlowSubscriber,
        BatchSubscriber,
      ],
    })
    class SubscribersTestModule {}
    const app = await NestFactory.createApplicationContext(SubscribersTestModule, { logger: false });
    await app.init();
    return app;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mfa-subscription-'));
    events = new SqliteEventStore(join(dir, 'events.sqlite'));
    readModels = new SqliteReadModelStore(join(dir, 'read-models.sqlite'));
  });
  after(async () => {
    await readModels.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the committed events, old and new, in order, and moves its checkpoint only after every handler is done', async () => {
    for (let i = 0; i < 150; i++) await events.append(`s-${i % 7}`, 'any', [event(i)]);
    const app = await start();
    try {
      for (let i = 150; i < 260; i++) await events.append(`s-${i % 7}`, 'any', [event(i)]);
      const head = await events.headPosition();
      await until(() => seen.recorded.length === 260, 'every event is delivered');
      assert.deepEqual(seen.recorded, Array.from({ length: 260 }, (_, i) => i + 1), 'each event once, in global order');
      assert.ok(seen.committed.every(Boolean), 'no event reached a subscriber before it was in the store');
      await until(async () => (await readModels.checkpoint(eventBusSubscription)).position === head, 'the checkpoint reaches the head');
      assert.deepEqual(seen.slowDone, seen.recorded, 'the slow subscriber got every event too, and was waited for');
      assert.deepEqual(seen.batched, seen.recorded, 'the batch subscriber got each event once, in order');
      assert.ok(Math.max(...seen.batchSizes) >= 150, `the history came in large batches (${seen.batchSizes.join(', ')})`);
      assert.equal(app.get(SubscriptionRunner).status().position, head);
    } finally {
      await app.close();
    }
  });

  it('stops at an event a handler fails on, shows it, and delivers that same event again until it passes', async () => {
    const app = await start();
    try {
      const first = await events.append('f-1', 'no_stream', [event(1)]);
      await until(() => seen.recorded.includes(first.position), 'the first event is delivered');
      // Refused before it is appended, so that no delivery can come first.
      const next = (await events.headPosition()) + 1;
      seen.refuse.set(next, 1);
      const failing = await events.append('f-1', 0, [event(2)]);
      assert.equal(failing.position, next);
      const later = await events.append('f-2', 'no_stream', [event(3)]);
      const runner = app.get(SubscriptionRunner);
      await until(() => runner.status().failure !== null, 'the subscription stopped on the refused event');
      assert.deepEqual(seen.refused, [failing.position]);
      assert.equal(runner.status().failure?.position, failing.position);
      assert.match(runner.status().failure?.message ?? '', /not now/);
      const stored = await readModels.checkpoint(eventBusSubscription);
      assert.equal(stored.position, first.position, 'the checkpoint stays before the failed event');
      assert.equal(stored.failure?.position, failing.position);
      assert.ok(!seen.recorded.includes(later.position), 'no later event overtakes it');

      await until(() => seen.recorded.includes(later.position), 'the retry delivered it and what came after');
      const tail = seen.recorded.slice(seen.recorded.indexOf(first.position));
      assert.deepEqual(tail, [first.position, failing.position, later.position]);
      // The failure is cleared once the retried delivery's checkpoint is stored, just after delivery.
      await until(() => runner.status().failure === null, 'the failure is cleared after the retry');
      assert.equal((await readModels.checkpoint(eventBusSubscription)).failure, null);
    } finally {
      await app.close();
    }
  });

  it('stops at the one event of a batch that a batch subscriber fails on, and the others wait for it', async () => {
    const app = await start();
    try {
      const runner = app.get(SubscriptionRunner);
      await until(async () => runner.status().position === (await events.headPosition()), 'the subscription is caught up');
      const recordedBefore = seen.recorded.length;
      const head = await events.headPosition();
      // Refused as a batch and once more alone, then accepted on the retry.
      seen.batchRefuse.set(head + 3, 2);
      // Appended together: one commit, one notification, one batch.
      const appended = await Promise.all([1, 2, 3, 4, 5].map((i) => events.append(`b-${i}`, 'no_stream', [event(i)])));
      const written = appended.map((result) => result.position).sort((a, b) => a - b);
      assert.deepEqual(written, [head + 1, head + 2, head + 3, head + 4, head + 5]);
      await until(() => runner.status().failure !== null, 'the subscription stopped');
      assert.equal(runner.status().failure?.position, head + 3, 'stopped at the refused event, not at its batch');
      assert.match(runner.status().failure?.message ?? '', /batch not now/);
      assert.equal((await readModels.checkpoint(eventBusSubscription)).position, head + 2, 'the events before it are delivered');
      assert.deepEqual(seen.recorded.slice(recordedBefore), [head + 1, head + 2], 'the single-event subscribers stop there too');
      await until(() => seen.recorded.includes(written[4]), 'the retry delivered the rest');
      assert.deepEqual(seen.recorded.slice(recordedBefore), written, 'each event once, in order, for the single-event subscribers');
      assert.deepEqual([...new Set(seen.batched.filter((p) => p > head))], written, 'and at least once, in order, for the batch one');
      await until(() => runner.status().failure === null, 'the failure is cleared after the retry');
    } finally {
      await app.close();
    }
  });

  it('resumes after its checkpoint when the service starts again', async () => {
    const delivered = seen.recorded.length;
    const more = await events.append('r-1', 'no_stream', [event(1), event(2)]);
    const app = await start();
    try {
      await until(() => seen.recorded.includes(more.position), 'the new events are delivered');
      assert.deepEqual(seen.recorded.slice(delivered), [more.position - 1, more.position], 'nothing delivered before is delivered again');
    } finally {
      await app.close();
    }
  });
});
