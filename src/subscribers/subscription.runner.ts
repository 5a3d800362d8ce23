import { setImmediate as yieldToRequests } from 'node:timers/promises';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { EventBus, IEventHandler } from '@nestjs/cqrs';
import { EVENT_STORE, EventStore, RecordedEvent, StoreUnavailableError } from '../event-store/event-store.port';
import { failureOf } from '../projections/projection.rebuilder';
import { ViewStatus, viewStatusOf } from '../projections/projection-status';
import { ProjectionFailure, READ_MODEL_STORE, ReadModelStore } from '../projections/read-model-store.port';
import { CLOCK, Clock, systemClock } from '../shared/clock';
import { CoalescedRun } from '../shared/coalesced-run';
import { CommittedEvent, CommittedEvents } from './committed.event';
import { EVENT_BUS_SUBSCRIPTION, eventBusSubscription } from './event-bus.subscription';

/** Events delivered between two checkpoint writes: a crash delivers at most this many again. */
const BATCH_SIZE = 1000;
/** Waits before delivering again after a handler failed: doubled each time, up to the maximum. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** Besides notifications, the subscription looks at the log this often (events of other processes). */
const POLL_MS = 5000;
/**
 * After a commit, the subscription waits this long before it reads: nobody waits for a
 * subscriber, and under load the commits of this time go out as one batch (a few transactions
 * for hundreds of events instead of a few for each commit's dozens).
 */
const GATHER_MS = 20;

/** From @nestjs/cqrs: where @EventsHandler keeps the event classes a handler takes. */
const EVENTS_HANDLER_METADATA = '__eventsHandler__';

export interface SubscriptionStatus {
  name: string;
  position: number;
  failure: ProjectionFailure | null;
}

/** The messages the runner publishes. */
type Message = CommittedEvent | CommittedEvents;

/** The event of a batch (its index) that a subscriber failed on, and why. */
interface Failed {
  at: number;
  error: unknown;
}

/**
 * Delivers committed events to the in-service subscribers: reads the log after its checkpoint, a
 * batch at a time, publishes the batch on the cqrs EventBus (as one CommittedEvents, and as one
 * CommittedEvent per event for the subscribers that take single events), waits for every handler
 * to settle, and only then moves its checkpoint (at least once, in order). A handler that throws
 * stops the delivery at the event it fails on (a failed batch is delivered again one event at a
 * time to find it): the error is logged and shown by ListViews, and the same event is delivered
 * again later (with a growing pause), never skipped.
 *
 * The EventBus runs handlers without telling the publisher when they are done, so the runner
 * wraps each subscriber's `handle` (singletons only) to collect the promises it returns.
 */
@Injectable()
export class SubscriptionRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SubscriptionRunner.name);
  private readonly pending = new WeakMap<Message, Array<Promise<unknown>>>();
  /** Subscribers per message class. */
  private readonly handlerCounts = new Map<Function, number>([
    [CommittedEvent, 0],
    [CommittedEvents, 0],
  ]);
  private position = 0;
  private failure: ProjectionFailure | null = null;
  private readonly runs = new CoalescedRun(
    () => this.deliverAll(),
    () => !this.stopped && !this.retryTimer,
  );
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private gatherTimer: NodeJS.Timeout | null = null;
  private retryMs = RETRY_FIRST_MS;

  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore,
    private readonly eventBus: EventBus,
    private readonly discovery: DiscoveryService,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.wrapHandlers();
    await this.readModels.prepare(eventBusSubscription);
    const checkpoint = await this.readModels.checkpoint(eventBusSubscription);
    this.position = checkpoint.position;
    this.failure = checkpoint.failure;
    if (checkpoint.failure) {
      this.logger.warn(
        `subscribers had stopped at position ${checkpoint.failure.position} (${checkpoint.failure.message}); trying again`,
      );
    }
    this.unsubscribe = this.events.onAppended(() => this.gather());
    this.pollTimer = setInterval(() => void this.catchUp(), POLL_MS);
    this.pollTimer.unref();
    // In the background: the cqrs module binds the handlers to the bus in this same phase, and a
    // delivery that finds fewer handlers than were wrapped is not counted as delivered anyway.
    setImmediate(() => void this.catchUp());
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    await this.runs.settled();
  }

  status(): SubscriptionStatus {
    return { name: EVENT_BUS_SUBSCRIPTION, position: this.position, failure: this.failure };
  }

  /** The subscription's status as the store has it, with its lag, in the shape of a view's. */
  async describe(): Promise<ViewStatus> {
    const status = await viewStatusOf(this.events, this.readModels, eventBusSubscription, this.clock.now());
    return { ...status, name: EVENT_BUS_SUBSCRIPTION };
  }

  private gather(): void {
    if (this.gatherTimer || this.stopped) return;
    this.gatherTimer = setTimeout(() => {
      this.gatherTimer = null;
      void this.catchUp();
    }, GATHER_MS);
  }

  /** Delivers everything after the checkpoint; concurrent calls share one run. */
  catchUp(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.runs.run();
  }

  private async deliverAll(): Promise<void> {
    if (this.retryTimer) return; // a failed event waits for its retry
    try {
      for (let first = true; !this.stopped; first = false) {
        // A long catch-up (the first start over a big log) lets requests in between batches.
        if (!first) await yieldToRequests();
        const batch = await this.events.readAll({ after: this.position, limit: BATCH_SIZE });
        if (batch.length === 0) return;
        const { delivered, failed } = await this.deliverBatch(batch);
        if (delivered > 0) {
          this.position = await this.readModels.apply(eventBusSubscription, batch.slice(0, delivered), batch[delivered - 1].position);
        }
        if (failed) return await this.stopAt(batch[failed.at], failed.error);
        if (this.failure) await this.recovered();
        if (batch.length < BATCH_SIZE) return;
      }
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      this.logger.warn(`subscribers wait for the store: ${error.message}`);
      this.retryLater(RETRY_FIRST_MS);
    }
  }

  /**
   * Delivers a batch: to the batch subscribers at once (when they fail on it, one event at a time,
   * to find the event they fail on), then event by event to the others, up to that event.
   * Returns how many events every subscriber has handled, and the failure that stopped it.
   */
  private async deliverBatch(batch: readonly RecordedEvent[]): Promise<{ delivered: number; failed: Failed | null }> {
    let failed: Failed | null = null;
    let upTo = batch.length;
    if (this.handlerCounts.get(CommittedEvents)! > 0) {
      try {
        await this.publish(new CommittedEvents(batch));
      } catch (error) {
        failed = batch.length === 1 ? { at: 0, error } : await this.findFailing(batch);
        // A failure that did not happen again when one at a time was delivered after all.
        if (failed) upTo = failed.at;
      }
    }
    if (this.handlerCounts.get(CommittedEvent)! > 0) {
      for (let i = 0; i < upTo; i++) {
        try {
          await this.publish(new CommittedEvent(batch[i]));
        } catch (error) {
          return { delivered: i, failed: { at: i, error } };
        }
      }
    }
    return { delivered: upTo, failed };
  }

  private async findFailing(batch: readonly RecordedEvent[]): Promise<Failed | null> {
    for (let i = 0; i < batch.length; i++) {
      try {
        await this.publish(new CommittedEvents([batch[i]]));
      } catch (error) {
        return { at: i, error };
      }
    }
    return null;
  }

  /** Publishes one message and resolves once every subscriber of its class has handled it. */
  private async publish(message: Message): Promise<void> {
    const invocations: Array<Promise<unknown>> = [];
    this.pending.set(message, invocations);
    try {
      // The bus calls every handler synchronously from publish; their promises land in `invocations`.
      this.eventBus.publish(message);
    } finally {
      this.pending.delete(message);
    }
    const expected = this.handlerCounts.get(message.constructor)!;
    if (invocations.length < expected) {
      throw new Error(
        `only ${invocations.length} of ${expected} subscribers received the events: ` +
          'the event bus is not ready or is shutting down',
      );
    }
    const outcomes = await Promise.allSettled(invocations);
    const rejected = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (rejected) throw rejected.reason;
  }

  private async stopAt(event: RecordedEvent, error: unknown): Promise<void> {
    this.failure = failureOf(event, error, this.clock.now());
    this.logger.error(
      `subscribers stopped at position ${event.position} (${event.type} in ${event.streamId}): ` +
        `${this.failure.message}. The events before it are delivered; this one is delivered again in ${this.retryMs} ms.`,
      (error as Error)?.stack,
    );
    await this.readModels.recordFailure(eventBusSubscription, 0, this.failure);
    this.retryLater(this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private async recovered(): Promise<void> {
    this.logger.log(`subscribers resume: the event at position ${this.failure!.position} is delivered`);
    this.failure = null;
    this.retryMs = RETRY_FIRST_MS;
    await this.readModels.recordFailure(eventBusSubscription, 0, null);
  }

  private retryLater(ms: number): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.catchUp();
    }, ms);
    this.retryTimer.unref();
  }

  /**
   * Finds the @EventsHandler(CommittedEvent) and @EventsHandler(CommittedEvents) providers and
   * wraps their `handle`, so that each call's promise is known to the delivery that caused it.
   */
  private wrapHandlers(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const type = wrapper.metatype as unknown;
      if (typeof type !== 'function') continue;
      const messages: unknown[] = Reflect.getMetadata(EVENTS_HANDLER_METADATA, type) ?? [];
      const taken = [...this.handlerCounts.keys()].filter((message) => messages.includes(message));
      if (taken.length === 0) continue;
      if (taken.length > 1) {
        throw new Error(`subscriber ${type.name} takes both CommittedEvent and CommittedEvents: it would get every event twice`);
      }
      if (!wrapper.isDependencyTreeStatic() || !wrapper.instance) {
        throw new Error(
          `subscriber ${type.name} must be a singleton (default scope): the subscription waits for each handler it calls`,
        );
      }
      const instance = wrapper.instance as IEventHandler<Message>;
      const handle = instance.handle.bind(instance);
      instance.handle = (message: Message) => {
        let result: Promise<unknown>;
        try {
          result = Promise.resolve(handle(message));
        } catch (error) {
          result = Promise.reject(error);
        }
        this.pending.get(message)?.push(result);
        return result as Promise<void>;
      };
      this.handlerCounts.set(taken[0], this.handlerCounts.get(taken[0])! + 1);
    }
    const count = [...this.handlerCounts.values()].reduce((a, b) => a + b, 0);
    this.logger.log(`${count} subscriber(s) receive committed events`);
  }
}
