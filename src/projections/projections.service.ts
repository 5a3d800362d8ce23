import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { RecordedEvent } from '../event-store/event-store.port';
import { DocumentProjection } from '../event-store/read-model.port';
import { PROJECTIONS, STORES, Stores } from '../event-store/stores';
import { CLOCK, Clock, systemClock } from '../shared/clock';
import { Follower, FollowStep } from './follower';
import { RebuildOutcome, RebuildTarget, lowestOf, rebuildBatch } from './rebuild';
import { ViewStatus, viewStatusOf } from './view-status';

/** Events read and applied in one transaction while catching up, following or rebuilding. */
const BATCH_SIZE = 1000;
/** How long a write waits for read models that follow the log before answering anyway (the write is durable). */
const WAIT_LIMIT_MS = 5000;

interface Waiter {
  position: number;
  resolve(): void;
}

/**
 * Keeps the views up to date. On SQLite and PostgreSQL every append writes them in its own
 * transaction; this only catches them up at start (a new version, a log written by another
 * process) and runs rebuilds. With EventStoreDB they follow the log, and a command waits
 * (`waitFor`) until they have applied its event, so the next read shows it.
 *
 * A view whose evolve throws stops at that event (the store keeps the events before it and the
 * failure), the others go on; it tries again at the next start, or when a rebuild of it switches.
 */
@Injectable()
export class ProjectionsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Projections');
  private follower: Follower | null = null;
  /** Where each running view is, as far as this process knows (views that follow the log). */
  private readonly positions = new Map<DocumentProjection, number>();
  private readonly rebuilds = new Map<string, Follower>();
  private waiters: Waiter[] = [];

  constructor(
    @Inject(STORES) private readonly stores: Stores,
    @Inject(PROJECTIONS) private readonly projections: readonly DocumentProjection[],
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  /** Prepares the views and catches them up before the service takes requests. */
  async onApplicationBootstrap(): Promise<void> {
    const { readModels } = this.stores;
    for (const projection of this.projections) {
      await readModels.prepare(projection);
      const checkpoint = await readModels.checkpoint(projection);
      // A start is when a fix gets deployed: a view that had stopped tries its event again.
      if (checkpoint.failure) {
        this.logger.warn(
          `view ${projection.name} had stopped at position ${checkpoint.failure.position} (${checkpoint.failure.message}); trying again`,
        );
        await readModels.recordFailure(projection, checkpoint.generation, null);
      }
      this.positions.set(projection, checkpoint.position);
      if (checkpoint.rebuild) {
        if (checkpoint.rebuild.failure) await readModels.recordFailure(projection, checkpoint.rebuild.generation, null);
        this.logger.log(`resuming the rebuild of ${projection.name} into generation ${checkpoint.rebuild.generation} at position ${checkpoint.rebuild.position}`);
        this.rebuildFrom(projection, checkpoint.rebuild.generation, checkpoint.rebuild.position);
      }
    }
    await this.follow();
  }

  /** Resolves once every running view has applied the event at `position`: at once when the views are written inline. */
  waitFor(position: number): Promise<void> {
    if (this.stores.inline || this.reached(position)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn(`the views did not reach position ${position} within ${WAIT_LIMIT_MS} ms; answering anyway`);
        resolve();
      }, WAIT_LIMIT_MS);
      this.waiters.push({ position, resolve: () => (clearTimeout(timer), resolve()) });
      void this.follower?.catchUp();
    });
  }

  has(name: string): boolean {
    return this.projections.some((projection) => projection.name === name);
  }

  /** The status of every view as the stores have it (also what other processes did), with its lag. */
  async describe(head?: number): Promise<ViewStatus[]> {
    const logHead = head ?? (await this.stores.events.headPosition());
    const now = this.clock.now();
    const views: ViewStatus[] = [];
    for (const projection of this.projections) {
      views.push(await viewStatusOf(this.stores.events, this.stores.readModels, projection, now, logHead));
    }
    return views;
  }

  /**
   * Starts rebuilding a view from the first event into a new generation, in the background; the
   * current generation answers reads until the new one has caught up. Returns the new generation.
   */
  async rebuild(name: string): Promise<number> {
    const projection = this.projections.find((p) => p.name === name);
    if (!projection) throw new Error(`no view named ${name}`);
    const generation = await this.stores.readModels.startRebuild(projection);
    this.logger.log(`rebuilding ${projection.name} into generation ${generation} from the first event`);
    this.rebuildFrom(projection, generation, 0);
    return generation;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.follower?.stop();
    await Promise.all([...this.rebuilds.values()].map((rebuild) => rebuild.stop()));
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  /** Catches the running views up; with EventStoreDB, goes on following the log. */
  private async follow(): Promise<void> {
    const follower = new Follower(this.stores.events, this.lowestPosition(), (batch) => this.applyActive(batch), {
      name: 'the views',
      batchSize: BATCH_SIZE,
      logger: this.logger,
    });
    this.follower = follower;
    if (!this.stores.inline) follower.listen();
    await follower.catchUp();
  }

  private async applyActive(batch: readonly RecordedEvent[]): Promise<FollowStep> {
    const running = [...this.positions.keys()];
    if (running.length === 0) return 'done';
    if (batch.length > 0) {
      const upTo = batch[batch.length - 1].position;
      const applied = await this.stores.readModels.apply(running, batch, upTo);
      applied.forEach(({ position, failure }, i) => {
        if (!failure) return this.positions.set(running[i], position);
        this.positions.delete(running[i]);
        this.logger.error(
          `view ${running[i].name} v${running[i].version} stopped at position ${failure.position} (${failure.eventType} in ` +
            `${failure.streamId}): ${failure.message}. The events before it are applied and the other views go on; ` +
            'fix the cause and restart, or rebuild the view',
        );
      });
    }
    this.releaseWaiters();
    return { position: this.lowestPosition() };
  }

  private rebuildFrom(projection: DocumentProjection, generation: number, from: number): void {
    const started = Date.now();
    const pending: RebuildTarget[] = [{ projection, generation, position: from }];
    const rebuild = new Follower(
      this.stores.events,
      from,
      async (batch, endOfLog) => {
        for (const outcome of await rebuildBatch(this.stores.readModels, pending, batch, endOfLog)) {
          this.reportRebuild(outcome, Date.now() - started);
        }
        return pending.length ? { position: lowestOf(pending) } : 'done';
      },
      { name: `the rebuild of ${projection.name}`, batchSize: BATCH_SIZE, logger: this.logger },
    );
    void this.rebuilds.get(projection.name)?.stop();
    this.rebuilds.set(projection.name, rebuild);
    if (this.stores.inline) void rebuild.catchUp();
    else rebuild.listen();
  }

  private reportRebuild({ projection, generation, result, position, failure }: RebuildOutcome, ms: number): void {
    const what = `the rebuild of ${projection.name} into generation ${generation}`;
    if (result === 'superseded') return this.logger.log(`${what} was replaced by a newer one`);
    if (result === 'failed') {
      return this.logger.error(
        `${what} stopped at position ${failure!.position} (${failure!.eventType} in ${failure!.streamId}): ` +
          `${failure!.message}. The previous generation keeps answering reads.`,
      );
    }
    this.logger.log(`rebuilt ${projection.name} into generation ${generation} up to position ${position} in ${ms} ms; it now answers reads`);
    // A view that had stopped runs again from the new generation.
    if (!this.positions.has(projection)) {
      this.positions.set(projection, position);
      if (this.follower && !this.follower.done) this.follower.position = this.lowestPosition();
      else void this.follow();
    }
  }

  private lowestPosition(): number {
    return Math.min(...this.positions.values());
  }

  private reached(position: number): boolean {
    for (const reached of this.positions.values()) if (reached < position) return false;
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
