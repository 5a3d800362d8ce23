import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { EVENT_STORE, EventStore, StoreUnavailableError } from '../event-store/event-store.port';
import { DocumentProjection, READ_MODEL_STORE, ReadModelStore } from './read-model-store.port';

export const PROJECTIONS = Symbol('Projections');

/** Events read and applied in one transaction. */
const BATCH_SIZE = 1000;
/** How long a write waits for the read models before answering anyway (the write is durable). */
const WAIT_LIMIT_MS = 5000;

export interface ProjectionStatus {
  name: string;
  version: number;
  position: number;
  error: string | null;
  failedAt: number | null;
}

interface Waiter {
  position: number;
  resolve: () => void;
}

/**
 * Keeps every projection caught up with the event store. Runs are coalesced: a notification while
 * a run is going marks one more run to do, never a second concurrent one.
 *
 * Read-your-writes: a command waits (`waitFor`) until every healthy projection has applied its
 * event before it answers, so the next read shows it. A projection that throws stops at the event
 * that failed, keeps its error in its status, and no longer holds writes back; the others go on.
 */
@Injectable()
export class ProjectionRunner implements OnApplicationShutdown {
  private readonly logger = new Logger(ProjectionRunner.name);
  private readonly status = new Map<string, ProjectionStatus>();
  private waiters: Waiter[] = [];
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;

  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore,
    @Inject(PROJECTIONS) private readonly projections: readonly DocumentProjection[],
  ) {}

  /** Prepares the tables and catches up before the service takes requests. */
  async start(): Promise<void> {
    for (const projection of this.projections) {
      await this.readModels.prepare(projection);
      const { position } = await this.readModels.checkpoint(projection);
      this.status.set(projection.name, {
        name: projection.name,
        version: projection.version,
        position,
        error: null,
        failedAt: null,
      });
    }
    this.unsubscribe = this.events.onAppended(() => void this.catchUp());
    await this.catchUp();
  }

  statuses(): ProjectionStatus[] {
    return [...this.status.values()].map((s) => ({ ...s }));
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
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        for (const projection of this.projections) await this.runOne(projection);
        this.releaseWaiters();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running;
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters = [];
  }

  private async runOne(projection: DocumentProjection): Promise<void> {
    const status = this.status.get(projection.name)!;
    if (status.error) return;
    try {
      for (;;) {
        const head = await this.events.headPosition();
        if (head <= status.position) return;
        const batch = await this.events.readAll({
          after: status.position,
          limit: BATCH_SIZE,
          eventTypes: projection.eventTypes,
        });
        const upTo = batch.length < BATCH_SIZE ? head : batch[batch.length - 1].position;
        status.position = await this.readModels.apply(projection, batch, upTo);
        if (batch.length < BATCH_SIZE) return;
      }
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        // An outage is not the projection's fault: try again shortly, without marking it failed.
        this.logger.warn(`projection ${projection.name} waits for the store: ${error.message}`);
        this.retryLater();
        return;
      }
      status.error = (error as Error).message;
      status.failedAt = status.position;
      this.logger.error(
        `projection ${projection.name} v${projection.version} stopped after position ${status.position}: ${status.error}`,
        (error as Error).stack,
      );
    }
  }

  private retryTimer: NodeJS.Timeout | null = null;

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
