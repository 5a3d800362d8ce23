import { EventStore, RecordedEvent, StoreUnavailableError } from '../event-store/event-store.port';
import {
  DocumentProjection,
  EvolveError,
  ProjectionFailure,
  ReadModelStore,
  RebuildSupersededError,
  eventsFor,
} from './read-model-store.port';

/** A projection and the generation a rebuild fills for it. */
export interface RebuildTarget {
  projection: DocumentProjection;
  generation: number;
}

export type RebuildResult =
  /** The new generation caught up and now answers reads. */
  | 'switched'
  /** Another rebuild replaced this one (or finished it first); nothing more to do here. */
  | 'superseded'
  /** evolve threw on an event; the old generation keeps answering reads. */
  | 'failed'
  /** Asked to stop (shutdown); the rebuild can be resumed from its checkpoint. */
  | 'stopped';

export interface RebuildOutcome {
  projection: DocumentProjection;
  generation: number;
  result: RebuildResult;
  /** Position the new generation reached. */
  position: number;
  failure?: ProjectionFailure;
}

export interface RebuildProgress {
  /** Lowest position every target has reached. */
  position: number;
  /** Head of the log when last looked at. */
  head: number;
  /** Events read from the log so far by this run. */
  eventsRead: number;
}

export interface RebuildOptions {
  /** Events read and applied per transaction. */
  batchSize: number;
  onProgress?(progress: RebuildProgress): void;
  /** Awaited between batches, e.g. to let requests run in a service. */
  pause?(): Promise<void>;
  /** Checked between batches. */
  stopped?(): boolean;
  now?(): Date;
}

/**
 * Fills new generations of views from the first event, streaming the log in batches (memory stays
 * flat whatever its length) and reading each batch once for all targets. When a read comes back
 * short the targets have caught up: the last batch is applied and the switch made in one
 * transaction (finishRebuild); if the active generation got ahead meanwhile, it reads on.
 *
 * The log is read without a type filter: a rebuild looks at every event anyway, and a range scan
 * of the log's primary key is the cheapest read there is.
 */
export class ProjectionRebuilder {
  constructor(
    private readonly events: EventStore,
    private readonly readModels: ReadModelStore,
  ) {}

  async run(targets: readonly RebuildTarget[], options: RebuildOptions): Promise<RebuildOutcome[]> {
    const now = options.now ?? (() => new Date());
    const outcomes: RebuildOutcome[] = [];
    const pending: Array<RebuildTarget & { position: number }> = [];
    for (const target of targets) {
      const { rebuild } = await this.readModels.checkpoint(target.projection);
      if (rebuild?.generation !== target.generation) {
        outcomes.push({ ...target, result: 'superseded', position: rebuild?.position ?? 0 });
      } else {
        pending.push({ ...target, position: rebuild.position });
      }
    }
    let head = await this.events.headPosition();
    let eventsRead = 0;
    while (pending.length > 0) {
      if (options.stopped?.()) {
        for (const target of pending.splice(0)) outcomes.push({ ...target, result: 'stopped' });
        break;
      }
      const from = Math.min(...pending.map((target) => target.position));
      const batch = await this.events.readAll({ after: from, limit: options.batchSize });
      eventsRead += batch.length;
      const upTo = batch.length > 0 ? batch[batch.length - 1].position : from;
      const caughtUp = batch.length < options.batchSize;
      for (const target of [...pending]) {
        const outcome = await this.step(target, batch, upTo, caughtUp, now);
        if (outcome) {
          pending.splice(pending.indexOf(target), 1);
          outcomes.push(outcome);
        }
      }
      if (caughtUp || upTo > head) head = Math.max(upTo, await this.events.headPosition());
      options.onProgress?.({
        position: pending.length ? Math.min(...pending.map((target) => target.position)) : head,
        head,
        eventsRead,
      });
      if (pending.length > 0) await options.pause?.();
    }
    return outcomes;
  }

  /** One batch for one target; an outcome when the target is done. */
  private async step(
    target: RebuildTarget & { position: number },
    batch: readonly RecordedEvent[],
    upTo: number,
    caughtUp: boolean,
    now: () => Date,
  ): Promise<RebuildOutcome | null> {
    const { projection, generation } = target;
    if (target.position >= upTo && !caughtUp) return null;
    const events = eventsFor(projection, batch, target.position);
    try {
      if (caughtUp) {
        if (await this.readModels.finishRebuild(projection, generation, events, upTo)) {
          return { projection, generation, result: 'switched', position: upTo };
        }
        // The active generation is ahead: new events came in after this batch was read.
        target.position = Math.max(target.position, upTo);
        return null;
      }
      target.position = await this.readModels.applyRebuild(projection, generation, events, upTo);
      return null;
    } catch (error) {
      if (error instanceof RebuildSupersededError) {
        return { projection, generation, result: 'superseded', position: target.position };
      }
      if (error instanceof StoreUnavailableError) throw error;
      const failure = await this.isolate(target, events, error, now);
      return { projection, generation, result: 'failed', position: target.position, failure };
    }
  }

  /**
   * A batch failed: applies its events one at a time, so that every event before the culprit is
   * in and the failure names the event itself.
   */
  private async isolate(
    target: RebuildTarget & { position: number },
    events: readonly RecordedEvent[],
    batchError: unknown,
    now: () => Date,
  ): Promise<ProjectionFailure> {
    const { projection, generation } = target;
    let failure: ProjectionFailure | null = null;
    for (const event of events) {
      try {
        target.position = await this.readModels.applyRebuild(projection, generation, [event], event.position);
      } catch (error) {
        if (error instanceof StoreUnavailableError || error instanceof RebuildSupersededError) throw error;
        failure = failureOf(event, error, now());
        break;
      }
    }
    // No single event fails, the batch as a whole did: stop where it got to rather than loop.
    failure ??= { ...failureOf(null, batchError, now()), position: target.position };
    await this.readModels.recordFailure(projection, generation, failure);
    return failure;
  }
}

/** A failure as it is stored and shown: the event that could not be applied and why. */
export function failureOf(event: RecordedEvent | null, error: unknown, at: Date): ProjectionFailure {
  const cause = error instanceof EvolveError ? error.cause : error;
  return {
    position: event?.position ?? 0,
    eventType: event?.type ?? '',
    streamId: event?.streamId ?? '',
    message: cause instanceof Error ? cause.message : String(cause),
    at,
  };
}
