import { Inject, Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import { setImmediate as yieldToRequests } from 'node:timers/promises';
import { EVENT_STORE, EventStore, RecordedEvent, StoreUnavailableError } from '../event-store/event-store.port';
import { CLOCK, Clock, systemClock } from '../shared/clock';
import { CoalescedRun } from '../shared/coalesced-run';
import { ProjectionRebuilder, RebuildOutcome, failureOf } from './projection.rebuilder';
import { ViewStatus, viewStatusOf } from './projection-status';
import {
  DocumentProjection,
  ProjectionFailure,
  READ_MODEL_STORE,
  ReadModelStore,
  eventsFor,
} from './read-model-store.port';

export const PROJECTIONS = Symbol('Projections');

/** Events read and applied in one transaction while following the log. */
const BATCH_SIZE = 1000;
/**
 * Events per transaction of a rebuild inside the service. Each batch holds the event loop for its
 * duration, so it stays small enough for requests to go on between batches.
 */
const REBUILD_BATCH_SIZE = 1000;
/** How long a write waits for the read models before answering anyway (the write is durable). */
const WAIT_LIMIT_MS = 5000;
/**
 * Besides notifications, the runner looks at the store this often: another process may have
 * switched a generation (the CLI) or appended events it was not told about.
 */
const POLL_MS = 5000;

export interface ProjectionStatus {
  name: string;
  version: number;
  /** Position of the active generation. */
  position: number;
  /** Why the active generation stopped, or null while it runs. */
  error: string | null;
  /** Position of the event it stopped at. */
  failedAt: number | null;
  /** The generation that answers reads. */
  generation?: number;
  failure?: ProjectionFailure | null;
  /** The generation being rebuilt in this process, if any. */
  rebuilding?: number | null;
}

interface Waiter {
  position: number;
  resolve: () => void;
}

interface RebuildJob {
  generation: number;
  done: Promise<RebuildOutcome | null>;
}

/**
 * Keeps every projection caught up with the event store. Runs are coalesced: a notification while
 * a run is going marks one more run to do, never a second concurrent one. One run reads each batch
 * of the log once for all projections.
 *
 * Read-your-writes: a command waits (`waitFor`) until every healthy projection's ACTIVE generation
 * has applied its event before it answers, so the next read shows it. Rebuilds fill another
 * generation and never hold writes back.
 *
 * Failure isolation: a projection that throws on an event stops at that event (the batch is
 * retried event by event, so every event before it is applied), keeps the error in its status,
 * in the store and in the logs, and no longer holds writes back; the others go on. It resumes
 * after a restart (the fix is deployed) or when a rebuild of it switches over.
 */
@Injectable()
export class ProjectionRunner implements OnApplicationShutdown {
  private readonly logger = new Logger(ProjectionRunner.name);
  private readonly status = new Map<string, ProjectionStatus>();
  private readonly rebuilds = new Map<string, RebuildJob>();
  private readonly rebuilder: ProjectionRebuilder;
  private waiters: Waiter[] = [];
  private readonly runs = new CoalescedRun(
    () => this.runOnce(),
    () => !this.stopped,
  );
  /** Checkpoints are read from the store at the next run (polls, switches), not on every run. */
  private refreshDue = true;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore,
    @Inject(PROJECTIONS) private readonly projections: readonly DocumentProjection[],
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.rebuilder = new ProjectionRebuilder(events, readModels);
  }

  /** Prepares the tables and catches up before the service takes requests. */
  async start(): Promise<void> {
    for (const projection of this.projections) {
      await this.readModels.prepare(projection);
      const checkpoint = await this.readModels.checkpoint(projection);
      // A start is when a fix gets deployed: a projection that had stopped tries its event again.
      if (checkpoint.failure) {
        this.logger.warn(
          `projection ${projection.name} had stopped at position ${checkpoint.failure.position} ` +
            `(${checkpoint.failure.message}); trying again`,
        );
        await this.readModels.recordFailure(projection, checkpoint.generation, null);
      }
      this.status.set(projection.name, {
        name: projection.name,
        version: projection.version,
        position: checkpoint.position,
        error: null,
        failedAt: null,
        generation: checkpoint.generation,
        failure: null,
        rebuilding: null,
      });
    }
    this.unsubscribe = this.events.onAppended(() => void this.catchUp());
    await this.catchUp();
    // Rebuilds interrupted by a stop go on where they were.
    for (const projection of this.projections) {
      const { rebuild } = await this.readModels.checkpoint(projection);
      if (!rebuild) continue;
      if (rebuild.failure) await this.readModels.recordFailure(projection, rebuild.generation, null);
      this.logger.log(`resuming the rebuild of ${projection.name} into generation ${rebuild.generation} at position ${rebuild.position}`);
      this.launchRebuild(projection, rebuild.generation);
    }
    this.pollTimer = setInterval(() => {
      this.refreshDue = true;
      void this.catchUp();
    }, POLL_MS);
    this.pollTimer.unref();
  }

  statuses(): ProjectionStatus[] {
    return [...this.status.values()].map((s) => ({ ...s }));
  }

  /** The status of every view as the store has it (also what other processes did), with its lag. */
  async describe(): Promise<ViewStatus[]> {
    const head = await this.events.headPosition();
    const now = this.clock.now();
    const views: ViewStatus[] = [];
    for (const projection of this.projections) {
      views.push(await viewStatusOf(this.events, this.readModels, projection, now, head));
    }
    return views;
  }

  has(name: string): boolean {
    return this.projections.some((projection) => projection.name === name);
  }

  /**
   * Starts rebuilding a view from the first event into a new generation, in the background; the
   * current generation answers reads until the new one has caught up. Returns the new generation.
   */
  async rebuild(name: string): Promise<number> {
    const projection = this.projections.find((p) => p.name === name);
    if (!projection) throw new Error(`no projection named ${name}`);
    const generation = await this.readModels.startRebuild(projection);
    this.logger.log(`rebuilding ${projection.name} into generation ${generation} from the first event`);
    this.launchRebuild(projection, generation);
    return generation;
  }

  /** Resolves once every healthy projection has applied the event at `position`. */
  waitFor(position: number): Promise<void> {
    if (this.reached(position)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn(`read models did not reach position ${position} within ${WAIT_LIMIT_MS} ms; answering anyway`);
        resolve();
      }, WAIT_LIMIT_MS);
      this.waiters.push({ position, resolve: () => (clearTimeout(timer), resolve()) });
      void this.catchUp();
    });
  }

  /** Runs every projection up to the head of the log; concurrent calls share one run. */
  catchUp(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.runs.run();
  }

  private async runOnce(): Promise<void> {
    try {
      await this.follow();
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        // An outage is not the projections' fault: try again shortly, without marking them failed.
        this.logger.warn(`projections wait for the store: ${error.message}`);
      } else {
        // Failures of a projection's own code are caught per event in applyActive; this is the
        // runner's or the store's, and no event is skipped because of it: the run is tried again.
        this.logger.error(`the projections' run failed; trying again shortly: ${(error as Error)?.stack ?? String(error)}`);
      }
      this.refreshDue = true;
      this.retryLater();
    }
    this.releaseWaiters();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.runs.settled();
    await Promise.all([...this.rebuilds.values()].map((job) => job.done));
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters = [];
  }

  /** One pass: every healthy projection's active generation up to the head, one read and one commit per batch. */
  private async follow(): Promise<void> {
    if (this.refreshDue) {
      this.refreshDue = false;
      for (const projection of this.projections) await this.refresh(projection);
    }
    for (let first = true; !this.stopped; first = false) {
      // A long catch-up lets requests in between batches.
      if (!first) await yieldToRequests();
      const healthy = this.projections.filter((p) => !this.status.get(p.name)!.error);
      if (healthy.length === 0) return;
      const from = Math.min(...healthy.map((p) => this.status.get(p.name)!.position));
      const batch = await this.events.readAll({ after: from, limit: BATCH_SIZE });
      if (batch.length === 0) return;
      const upTo = batch[batch.length - 1].position;
      const behind = healthy.filter((projection) => this.status.get(projection.name)!.position < upTo);
      try {
        const applied = await this.readModels.applyEach(
          behind.map((projection) => {
            const status = this.status.get(projection.name)!;
            return { projection, events: eventsFor(projection, batch, status.position), upTo };
          }),
        );
        behind.forEach((projection, i) => {
          const status = this.status.get(projection.name)!;
          this.answersFrom(projection, status, applied[i].generation);
          status.position = applied[i].position;
        });
      } catch (error) {
        if (error instanceof StoreUnavailableError) throw error;
        // One of them cannot apply the batch: each on its own, so that only that one stops.
        for (const projection of behind) {
          const status = this.status.get(projection.name)!;
          await this.applyActive(projection, status, eventsFor(projection, batch, status.position), upTo);
        }
      }
      this.releaseWaiters();
      if (batch.length < BATCH_SIZE) return;
    }
  }

  /**
   * Takes the checkpoint from the store, which is the truth: another process may have switched
   * the active generation (clearing a failure) or recorded one.
   */
  private async refresh(projection: DocumentProjection): Promise<void> {
    const status = this.status.get(projection.name)!;
    const checkpoint = await this.readModels.checkpoint(projection);
    this.answersFrom(projection, status, checkpoint.generation);
    if (status.error && !checkpoint.failure) {
      this.logger.log(`projection ${projection.name} resumes: its failure was cleared by a rebuild`);
    }
    status.position = checkpoint.position;
    status.failure = checkpoint.failure;
    status.error = checkpoint.failure?.message ?? null;
    status.failedAt = checkpoint.failure?.position ?? null;
  }

  /** Takes the active generation the store reported, saying so when another process switched it. */
  private answersFrom(projection: DocumentProjection, status: ProjectionStatus, generation: number): void {
    if (generation !== status.generation) {
      this.logger.log(`projection ${projection.name} now answers from generation ${generation} (was ${status.generation})`);
    }
    status.generation = generation;
  }

  private async applyActive(
    projection: DocumentProjection,
    status: ProjectionStatus,
    events: readonly RecordedEvent[],
    upTo: number,
  ): Promise<void> {
    try {
      status.position = await this.readModels.apply(projection, events, upTo);
      return;
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
    }
    // The batch failed: one event at a time, so that every event before the culprit is applied.
    for (const event of events) {
      try {
        status.position = await this.readModels.apply(projection, [event], event.position);
      } catch (error) {
        if (error instanceof StoreUnavailableError) throw error;
        await this.stop(projection, status, failureOf(event, error, this.clock.now()), error);
        return;
      }
    }
    status.position = await this.readModels.apply(projection, [], upTo);
  }

  private async stop(
    projection: DocumentProjection,
    status: ProjectionStatus,
    failure: ProjectionFailure,
    error: unknown,
  ): Promise<void> {
    status.failure = failure;
    status.error = failure.message;
    status.failedAt = failure.position;
    this.logger.error(
      `projection ${projection.name} v${projection.version} stopped at position ${failure.position} ` +
        `(${failure.eventType} in ${failure.streamId}); the events before it are applied, the other ` +
        `projections go on. Fix the cause and restart, or rebuild the view: ${failure.message}`,
      (error as Error)?.stack,
    );
    await this.readModels.recordFailure(projection, status.generation ?? 0, failure);
  }

  private launchRebuild(projection: DocumentProjection, generation: number): void {
    const status = this.status.get(projection.name)!;
    status.rebuilding = generation;
    const job: RebuildJob = {
      generation,
      done: this.runRebuild(projection, generation).finally(() => {
        if (this.rebuilds.get(projection.name) === job) {
          this.rebuilds.delete(projection.name);
          if (status.rebuilding === generation) status.rebuilding = null;
        }
      }),
    };
    this.rebuilds.set(projection.name, job);
  }

  private async runRebuild(projection: DocumentProjection, generation: number): Promise<RebuildOutcome | null> {
    const started = Date.now();
    for (;;) {
      try {
        const [outcome] = await this.rebuilder.run([{ projection, generation }], {
          batchSize: REBUILD_BATCH_SIZE,
          pause: () => yieldToRequests(),
          stopped: () => this.stopped,
          now: () => this.clock.now(),
        });
        this.report(outcome, Date.now() - started);
        if (outcome.result === 'switched') {
          this.refreshDue = true;
          await this.catchUp();
        }
        return outcome;
      } catch (error) {
        if (!(error instanceof StoreUnavailableError) || this.stopped) {
          this.logger.error(`the rebuild of ${projection.name} into generation ${generation} failed: ${(error as Error).message}`);
          return null;
        }
        this.logger.warn(`the rebuild of ${projection.name} waits for the store: ${error.message}`);
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
  }

  private report(outcome: RebuildOutcome, ms: number): void {
    const { projection, generation, position } = outcome;
    switch (outcome.result) {
      case 'switched':
        this.logger.log(`rebuilt ${projection.name} into generation ${generation} up to position ${position} in ${ms} ms; it now answers reads`);
        break;
      case 'superseded':
        this.logger.log(`the rebuild of ${projection.name} into generation ${generation} was replaced by a newer one`);
        break;
      case 'stopped':
        this.logger.log(`the rebuild of ${projection.name} into generation ${generation} pauses at position ${position}; it resumes at the next start`);
        break;
      case 'failed':
        this.logger.error(
          `the rebuild of ${projection.name} into generation ${generation} stopped at position ${outcome.failure!.position} ` +
            `(${outcome.failure!.eventType} in ${outcome.failure!.streamId}): ${outcome.failure!.message}. ` +
            'The previous generation keeps answering reads.',
        );
        break;
    }
  }

  private retryLater(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.catchUp();
    }, 1000);
    this.retryTimer.unref();
  }

  private reached(position: number): boolean {
    for (const status of this.status.values()) {
      if (!status.error && status.position < position) return false;
    }
    return true;
  }

  private releaseWaiters(): void {
    const pending: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (this.reached(waiter.position)) waiter.resolve();
      else pending.push(waiter);
    }
    this.waiters = pending;
  }
}
