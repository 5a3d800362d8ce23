import { Logger } from '@nestjs/common';
import { setImmediate as yieldToRequests } from 'node:timers/promises';
import { EventStore, RecordedEvent, StoreUnavailableError } from '../event-store/event-store.port';
import { CoalescedRun } from '../shared/coalesced-run';

/** What a follower's handler made of a batch: where it got to (and when to try again after a failure), or that it is done. */
export type FollowStep = { position: number; retryInMs?: number } | 'done';

export interface FollowerOptions {
  /** For the logs. */
  name: string;
  /** Events read and handled at a time. */
  batchSize: number;
  logger: Logger;
}

/** Besides notifications, a listening follower looks at the log this often (another process's events). */
const POLL_MS = 1000;
/** Wait before reading again after the store failed. */
const OUTAGE_RETRY_MS = 1000;

/**
 * The one way anything follows the log: read the events after its position, hand the batch to
 * `handle`, which saves its effects together with the position it reached, and go on until the
 * log is read to its end. Calls made while a run goes on share that run, so a burst of appends
 * costs one pass over what is new. A handler that failed on an event says when to try it again.
 */
export class Follower {
  private readonly runs = new CoalescedRun(
    () => this.follow(),
    () => !this.stopped && !this.retryTimer,
  );
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly events: EventStore,
    /** The position after which the next batch is read. */
    public position: number,
    private readonly handle: (batch: readonly RecordedEvent[], endOfLog: boolean) => Promise<FollowStep>,
    private readonly options: FollowerOptions,
  ) {}

  /** True once the handler said it is done, or the follower was stopped. */
  get done(): boolean {
    return this.stopped;
  }

  /** Reads and handles everything up to the end of the log; concurrent calls share one run. */
  catchUp(): Promise<void> {
    return this.stopped ? Promise.resolve() : this.runs.run();
  }

  /** Catches up, then follows new events as they are committed, and looks for others' on a timer. */
  listen(): void {
    this.unsubscribe ??= this.events.onAppended(() => void this.catchUp());
    this.pollTimer ??= setInterval(() => void this.catchUp(), POLL_MS).unref();
    void this.catchUp();
  }

  async stop(): Promise<void> {
    this.halt();
    await this.runs.settled();
  }

  private halt(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
  }

  private async follow(): Promise<void> {
    if (this.retryTimer) return;
    try {
      for (let first = true; !this.stopped; first = false) {
        // A long catch-up lets requests in between batches.
        if (!first) await yieldToRequests();
        const batch = await this.events.readAll({ after: this.position, limit: this.options.batchSize });
        const endOfLog = batch.length < this.options.batchSize;
        const step = await this.handle(batch, endOfLog);
        if (step === 'done') return this.halt();
        this.position = step.position;
        if (step.retryInMs !== undefined) return this.retryIn(step.retryInMs);
        if (endOfLog) return;
      }
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        this.options.logger.warn(`${this.options.name} waits for the store: ${error.message}`);
      } else {
        // Not an event's fault (those the handler reports): the follower's or the store's. Nothing is skipped.
        this.options.logger.error(`${this.options.name} failed; trying again shortly: ${(error as Error)?.stack ?? String(error)}`);
      }
      this.retryIn(OUTAGE_RETRY_MS);
    }
  }

  private retryIn(ms: number): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.catchUp();
    }, ms).unref();
  }
}
