import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventStore, NewEvent, RecordedEvent } from '../event-store/event-store.port';
import { SqliteEventStore } from '../event-store/sqlite/sqlite-event-store.adapter';
import { ProjectionRebuilder } from './projection.rebuilder';
import { ProjectionRunner } from './projection.runner';
import { DocumentProjection, ReadModelStore } from './read-model-store.port';
import { SqliteReadModelStore } from './sqlite/sqlite-read-model-store.adapter';

const NOTED = 'test.noted';
const OTHER = 'test.other';

interface Notes {
  stream: string;
  positions: number[];
}

/** Remembers the positions of each stream's events, so a skipped or doubled event shows. */
function notesProjection(name: string, options: { poisonous?: boolean } = {}): DocumentProjection<Notes> {
  // Each test poisons events for its own projection only: they all read the same log.
  return {
    name,
    version: 1,
    eventTypes: [NOTED],
    documentId: (event) => event.streamId,
    evolve(doc, event) {
      if (options.poisonous && event.data?.poison === name) throw new Error(`cannot digest the event at ${event.position}`);
      return { stream: event.streamId, positions: [...(doc?.positions ?? []), event.position] };
    },
  };
}

const noted = (data: Record<string, unknown> = {}): NewEvent => ({
  eventId: randomUUID(),
  type: NOTED,
  data,
  metadata: { resourceOwner: 'org-1', creator: 'tester', correlationId: randomUUID() },
  createdAt: new Date(),
});

async function positionsIn(events: EventStore, streamId: string): Promise<number[]> {
  return (await events.readStream(streamId)).events.filter((e) => e.type === NOTED).map((e) => e.position);
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe('ProjectionRunner', () => {
  let dir: string;
  let events: SqliteEventStore;
  let readModels: ReadModelStore;
  const runners: ProjectionRunner[] = [];
  const runnerOf = (...projections: DocumentProjection[]) => {
    const runner = new ProjectionRunner(events, readModels, projections);
    runners.push(runner);
    return runner;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mfa-runner-'));
    events = new SqliteEventStore(join(dir, 'events.sqlite'));
    readModels = new SqliteReadModelStore(join(dir, 'read-models.sqlite'));
  });
  after(async () => {
    for (const runner of runners) await runner.onApplicationShutdown();
    await readModels.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('given a projection that throws on one event', () => {
    const healthy = notesProjection('healthy');
    const failing = notesProjection('failing', { poisonous: true });
    let runner: ProjectionRunner;
    let poison: RecordedEvent;

    before(async () => {
      await events.append('s-1', 'no_stream', [noted(), noted(), noted({ poison: 'failing' }), noted(), noted()]);
      await events.append('s-2', 'no_stream', [noted(), { ...noted(), type: OTHER }]);
      poison = (await events.readStream('s-1')).events[2];
      runner = runnerOf(healthy, failing);
      await runner.start();
    });

    it('applies every event before it, stops at it and says why, in its status and in the store', async () => {
      const status = runner.statuses().find((s) => s.name === 'failing')!;
      assert.equal(status.failedAt, poison.position);
      assert.match(status.error ?? '', /cannot digest the event at/);
      assert.equal(status.position, poison.position - 1, 'its checkpoint is right before the event it failed on');
      const stored = await readModels.checkpoint(failing);
      assert.equal(stored.position, poison.position - 1);
      assert.equal(stored.failure?.position, poison.position);
      assert.equal(stored.failure?.eventType, NOTED);
      assert.equal(stored.failure?.streamId, 's-1');
      const all = await positionsIn(events, 's-1');
      assert.deepEqual((await readModels.get(failing, 's-1'))?.positions, all.slice(0, 2));
    });

    it('lets the other projections go on, and does not hold writes back', async () => {
      const head = await events.headPosition();
      assert.deepEqual((await readModels.get(healthy, 's-1'))?.positions, await positionsIn(events, 's-1'));
      const more = await events.append('s-2', 1, [noted()]);
      await runner.waitFor(more.position);
      assert.ok(more.position > head);
      assert.deepEqual((await readModels.get(healthy, 's-2'))?.positions, await positionsIn(events, 's-2'));
      assert.equal(runner.statuses().find((s) => s.name === 'healthy')!.position, more.position);
      const stuck = runner.statuses().find((s) => s.name === 'failing')!;
      assert.equal(stuck.position, poison.position - 1, 'it applies nothing after the event it stopped at');
      assert.equal((await readModels.get(failing, 's-2')), null);
    });

    it('shows it in the views it describes, with its lag', async () => {
      const views = await runner.describe();
      const view = views.find((v) => v.name === 'failing')!;
      assert.equal(view.failure?.position, poison.position);
      assert.equal(view.lagEvents, view.head - (poison.position - 1));
      assert.ok(view.lagSeconds >= 0);
      assert.equal(views.find((v) => v.name === 'healthy')!.lagEvents, 0);
    });

    it('resumes from that event once fixed and started again, skipping nothing', async () => {
      await runner.onApplicationShutdown();
      const fixed = notesProjection('failing');
      const restarted = runnerOf(healthy, fixed);
      await restarted.start();
      assert.equal(restarted.statuses().find((s) => s.name === 'failing')!.error, null);
      assert.deepEqual((await readModels.get(fixed, 's-1'))?.positions, await positionsIn(events, 's-1'));
      assert.deepEqual((await readModels.get(fixed, 's-2'))?.positions, await positionsIn(events, 's-2'));
      assert.equal((await readModels.checkpoint(fixed)).failure, null);
      await restarted.onApplicationShutdown();
    });
  });

  describe('rebuilding a view', () => {
    it('fills a new generation while the old one answers, then switches and clears a failure', async () => {
      const broken = notesProjection('rebuilt', { poisonous: true });
      for (let i = 0; i < 30; i++) await events.append(`r-${i}`, 'no_stream', [noted(), noted(), noted()]);
      await events.append('r-poisoned', 'no_stream', [noted(), noted({ poison: 'rebuilt' }), noted()]);
      const runner = runnerOf(broken);
      await runner.start();
      assert.ok(runner.statuses()[0].error, 'the view stopped on the poisoned event');
      const before = await readModels.get(broken, 'r-7');
      await runner.onApplicationShutdown();

      const fixed = notesProjection('rebuilt');
      const repaired = runnerOf(fixed);
      await repaired.start();
      const generation = await repaired.rebuild('rebuilt');
      assert.equal(generation, 1);
      assert.deepEqual(await readModels.get(fixed, 'r-7'), before, 'reads answer from the old generation meanwhile');
      await until(async () => (await readModels.checkpoint(fixed)).generation === 1, 'the rebuild switched');
      const checkpoint = await readModels.checkpoint(fixed);
      assert.equal(checkpoint.rebuild, null);
      assert.equal(checkpoint.failure, null);
      assert.deepEqual(await readModels.get(fixed, 'r-7'), before);
      assert.deepEqual((await readModels.get(fixed, 'r-poisoned'))?.positions, await positionsIn(events, 'r-poisoned'));
      await until(() => repaired.statuses()[0].generation === 1, 'the runner follows the new generation');
      await repaired.onApplicationShutdown();
    });

    it('stops a rebuild at an event it cannot apply; the old generation keeps answering', async () => {
      const view = notesProjection('halfway');
      await events.append('h-1', 'no_stream', [noted(), noted()]);
      const runner = runnerOf(view);
      await runner.start();
      const answered = await readModels.get(view, 'h-1');
      await events.append('h-1', 1, [noted({ poison: 'halfway' })]);
      await runner.catchUp();
      // The code changes, and is now broken for that event: a rebuild cannot get past it.
      const broken = notesProjection('halfway', { poisonous: true });
      const generation = await readModels.startRebuild(broken);
      const [outcome] = await new ProjectionRebuilder(events, readModels).run([{ projection: broken, generation }], {
        batchSize: 2,
      });
      assert.equal(outcome.result, 'failed');
      assert.equal(outcome.failure?.streamId, 'h-1');
      const checkpoint = await readModels.checkpoint(view);
      assert.equal(checkpoint.generation, 0);
      assert.equal(checkpoint.rebuild?.failure?.position, outcome.failure?.position);
      assert.deepEqual((await readModels.get(view, 'h-1'))?.positions.slice(0, 2), answered?.positions);
      await runner.onApplicationShutdown();
    });

    it('notices a switch made by another process and applies new events to the new generation', async () => {
      const view = notesProjection('switched');
      await events.append('x-1', 'no_stream', [noted(), noted()]);
      const runner = runnerOf(view);
      await runner.start();
      // The CLI: its own connection to the same file.
      const cli = new SqliteReadModelStore(join(dir, 'read-models.sqlite'));
      const generation = await cli.startRebuild(view);
      const [outcome] = await new ProjectionRebuilder(events, cli).run([{ projection: view, generation }], { batchSize: 3 });
      assert.equal(outcome.result, 'switched');
      await cli.close();

      const appended = await events.append('x-1', 1, [noted()]);
      await runner.waitFor(appended.position);
      const status = runner.statuses()[0];
      assert.equal(status.generation, generation);
      assert.equal(status.position, appended.position);
      assert.deepEqual((await readModels.get(view, 'x-1'))?.positions, await positionsIn(events, 'x-1'));
      await runner.onApplicationShutdown();
    });
  });
});
