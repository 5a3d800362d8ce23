import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { DiscoveryModule, NestFactory } from '@nestjs/core';
import { CqrsModule, EventsHandler, IEventHandler } from '@nestjs/cqrs';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NewEvent } from '../../src/event-store/event-store.port';
import { SqliteStore } from '../../src/event-store/sqlite/sqlite-store.adapter';
import { STORES, Stores } from '../../src/event-store/stores';
import { CommittedEvents } from '../../src/subscribers/committed.event';
import { SubscribersService, subscriberNameOf, subscriptionView } from '../../src/subscribers/subscribers.service';

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
  batchSizes: [] as number[],
  /** Positions the recording subscriber refuses (a whole batch that holds one), and how often. */
  refuse: new Map<number, number>(),
  refused: [] as number[],
  slow: [] as number[],
};
let store: SqliteStore;

@EventsHandler(CommittedEvents)
class RecordingSubscriber implements IEventHandler<CommittedEvents> {
  async handle({ events }: CommittedEvents): Promise<void> {
    for (const { position, eventId } of events) {
      const [stored] = await store.readAll({ after: position - 1, limit: 1 });
      seen.committed.push(stored?.eventId === eventId);
      const left = seen.refuse.get(position);
      if (left) {
        seen.refuse.set(position, left - 1);
        seen.refused.push(position);
        throw new Error(`not now: ${position}`);
      }
    }
    seen.batchSizes.push(events.length);
    for (const { position } of events) seen.recorded.push(position);
  }
}

/** Takes a while: its checkpoint must not move before it is done, and it must not wait for the other one. */
@EventsHandler(CommittedEvents)
class SlowSubscriber implements IEventHandler<CommittedEvents> {
  async handle({ events }: CommittedEvents): Promise<void> {
    await sleep(2);
    for (const { position } of events) seen.slow.push(position);
  }
}

const checkpointOf = async (type: { name: string }) => (await store.checkpoint(subscriptionView(subscriberNameOf(type)))).position;

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await done()); await sleep(10)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
  }
}

describe('SubscribersService', () => {
  let dir: string;
  const start = async () => {
    const stores: Stores = { events: store, readModels: store, inline: true, close: async () => undefined };
    @Module({
      imports: [CqrsModule.forRoot(), DiscoveryModule],
      providers: [{ provide: STORES, useValue: stores }, SubscribersService, RecordingSubscriber, SlowSubscriber],
    })
    class SubscribersTestModule {}
    const app = await NestFactory.createApplicationContext(SubscribersTestModule, { logger: false });
    await app.init();
    return app;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mfa-subscribers-'));
    store = new SqliteStore(join(dir, 'events.sqlite'), { inline: [] });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names each subscriber after its class', () => {
    assert.equal(subscriberNameOf(RecordingSubscriber), 'recording');
    assert.equal(subscriberNameOf(class SecurityNotificationsSubscriber {}), 'security_notifications');
  });

  it('delivers the committed events, old and new, in order, and moves a checkpoint only after its handler is done', async () => {
    for (let i = 0; i < 1500; i++) await store.append(`s-${i % 7}`, 'any', [event(i)]);
    const app = await start();
    try {
      for (let i = 1500; i < 1600; i++) await store.append(`s-${i % 7}`, 'any', [event(i)]);
      const head = await store.headPosition();
      await until('every event is delivered', () => seen.recorded.length === 1600 && seen.slow.length === 1600);
      const all = Array.from({ length: 1600 }, (_, i) => i + 1);
      assert.deepEqual(seen.recorded, all, 'each event once, in global order');
      assert.deepEqual(seen.slow, all);
      assert.ok(seen.committed.every(Boolean), 'no event reached a subscriber before it was in the store');
      assert.ok(Math.max(...seen.batchSizes) >= 1000, `the history came in large batches (${seen.batchSizes.join(', ')})`);
      await until('both checkpoints reach the head', async () => (await checkpointOf(RecordingSubscriber)) === head && (await checkpointOf(SlowSubscriber)) === head);
    } finally {
      await app.close();
    }
  });

  it('stops one subscriber at the event it fails on, shows it, delivers it again until it passes; the other goes on', async () => {
    const app = await start();
    try {
      const service = app.get(SubscribersService);
      const head = await store.headPosition();
      await until('caught up', async () => (await checkpointOf(RecordingSubscriber)) === head);
      const recordedBefore = seen.recorded.length;
      // Refused as a batch, once more alone, then accepted on the retry.
      seen.refuse.set(head + 3, 2);
      const appended = await Promise.all([1, 2, 3, 4, 5].map((i) => store.append(`b-${i}`, 'no_stream', [event(i)])));
      const written = appended.map((result) => result.position).sort((a, b) => a - b);
      assert.deepEqual(written, [head + 1, head + 2, head + 3, head + 4, head + 5]);
      const status = async () => (await service.describe(await store.headPosition())).find((v) => v.name === 'recording')!;
      await until('the subscriber stopped', async () => (await status()).failure !== null);
      const stopped = await status();
      assert.equal(stopped.failure?.position, head + 3, 'stopped at the refused event, not at its batch');
      assert.match(stopped.failure?.message ?? '', /not now/);
      assert.equal(stopped.position, head + 2, 'the events before it are delivered');
      await until('the slow subscriber has all of them', () => seen.slow.includes(head + 5));
      assert.ok(!seen.recorded.includes(head + 4), 'no later event overtakes the refused one');
      await until('the retry delivered the rest', () => seen.recorded.includes(head + 5));
      assert.deepEqual(seen.recorded.slice(recordedBefore), written, 'each event once, in order');
      await until('the failure is cleared', async () => (await status()).failure === null);
    } finally {
      await app.close();
    }
  });

  it('resumes after its checkpoint when the service starts again', async () => {
    const delivered = seen.recorded.length;
    const more = await store.append('r-1', 'no_stream', [event(1), event(2)]);
    const app = await start();
    try {
      await until('the new events are delivered', () => seen.recorded.includes(more.position));
      assert.deepEqual(seen.recorded.slice(delivered), [more.position - 1, more.position], 'nothing delivered before is delivered again');
    } finally {
      await app.close();
    }
  });
});
