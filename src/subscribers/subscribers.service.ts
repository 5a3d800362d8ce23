import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { IEventHandler } from '@nestjs/cqrs';
import { RecordedEvent } from '../event-store/event-store.port';
import { DocumentProjection, ProjectionFailure, failureOf } from '../event-store/read-model.port';
import { STORES, Stores } from '../event-store/stores';
import { Follower, FollowStep } from '../projections/follower';
import { ViewStatus, viewStatusOf } from '../projections/view-status';
import { CLOCK, Clock, systemClock } from '../shared/clock';
import { CommittedEvents } from './committed.event';

/** Events delivered between two checkpoint writes: a crash delivers at most this many again. */
const BATCH_SIZE = 1000;
/** Waits before delivering a failed event again: doubled each time, up to the maximum. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** Where @nestjs/cqrs's @EventsHandler keeps the event classes a handler takes. */
const EVENTS_HANDLER_METADATA = '__eventsHandler__';

/** A subscriber's name, from its class: SecurityNotificationsSubscriber is security_notifications. */
export const subscriberNameOf = (type: { name: string }): string =>
  type.name
    .replace(/Subscriber$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();

/** A subscriber's checkpoint, kept in the read model store like a view's (it has no documents). */
export const subscriptionView = (name: string): DocumentProjection => ({
  name: `subscription_${name}`,
  version: 1,
  eventTypes: [],
  documentId: () => null,
  evolve: (document) => document,
});

interface Subscription {
  name: string;
  view: DocumentProjection;
  handler: IEventHandler<CommittedEvents>;
  follower: Follower;
  failure: ProjectionFailure | null;
  retryMs: number;
}

/**
 * Feeds the in-service subscribers: every `@EventsHandler(CommittedEvents)` provider, found as
 * @nestjs/cqrs finds handlers, follows the log on its own, from a checkpoint of its own. Its
 * `handle` is called directly and awaited; one that fails stops at the event it fails on, the
 * others go on.
 */
@Injectable()
export class SubscribersService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Subscribers');
  private readonly subscriptions: Subscription[] = [];

  constructor(
    @Inject(STORES) private readonly stores: Stores,
    private readonly discovery: DiscoveryService,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { events, readModels } = this.stores;
    for (const wrapper of this.discovery.getProviders()) {
      const type = wrapper.metatype as { name: string } | null;
      if (typeof type !== 'function' || !(Reflect.getMetadata(EVENTS_HANDLER_METADATA, type) ?? []).includes(CommittedEvents)) continue;
      if (!wrapper.isDependencyTreeStatic() || !wrapper.instance) {
        throw new Error(`subscriber ${type.name} must be a singleton (default scope): its calls are awaited one batch at a time`);
      }
      const name = subscriberNameOf(type);
      const view = subscriptionView(name);
      await readModels.prepare(view);
      const checkpoint = await readModels.checkpoint(view);
      if (checkpoint.failure) {
        this.logger.warn(`subscriber ${name} had stopped at position ${checkpoint.failure.position} (${checkpoint.failure.message}); trying again`);
      }
      const subscription: Subscription = {
        name,
        view,
        handler: wrapper.instance as IEventHandler<CommittedEvents>,
        failure: checkpoint.failure,
        retryMs: RETRY_FIRST_MS,
        follower: new Follower(events, checkpoint.position, (batch) => this.deliver(subscription, batch), {
          name: `subscriber ${name}`,
          batchSize: BATCH_SIZE,
          logger: this.logger,
        }),
      };
      this.subscriptions.push(subscription);
    }
    this.logger.log(`${this.subscriptions.length} subscriber(s) receive committed events`);
    for (const { follower } of this.subscriptions) follower.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.subscriptions.map(({ follower }) => follower.stop()));
  }

  has(name: string): boolean {
    return this.subscriptions.some((subscription) => subscription.name === name);
  }

  /** Each subscriber's status as the store has it, named as the subscriber. */
  async describe(head: number): Promise<ViewStatus[]> {
    const now = this.clock.now();
    return Promise.all(
      this.subscriptions.map(async ({ name, view }) => ({
        ...(await viewStatusOf(this.stores.events, this.stores.readModels, view, now, head)),
        name,
      })),
    );
  }

  /** Hands a batch to the subscriber and moves its checkpoint past what it handled. */
  private async deliver(subscription: Subscription, batch: readonly RecordedEvent[]): Promise<FollowStep> {
    if (batch.length === 0) return { position: subscription.follower.position };
    const { delivered, failure } = await this.handle(subscription, batch);
    const { readModels } = this.stores;
    if (delivered > 0 && subscription.failure) {
      this.logger.log(`subscriber ${subscription.name} resumes: the event at position ${subscription.failure.position} is delivered`);
      subscription.failure = null;
      subscription.retryMs = RETRY_FIRST_MS;
      await readModels.recordFailure(subscription.view, 0, null);
    }
    const position = delivered > 0 ? batch[delivered - 1].position : subscription.follower.position;
    if (delivered > 0) await readModels.apply([subscription.view], [], position);
    if (!failure) return { position };
    const retryInMs = subscription.retryMs;
    subscription.retryMs = Math.min(retryInMs * 2, RETRY_MAX_MS);
    subscription.failure = failure;
    this.logger.error(
      `subscriber ${subscription.name} stopped at position ${failure.position} (${failure.eventType} in ${failure.streamId}): ` +
        `${failure.message}. The events before it are delivered; this one is delivered again in ${retryInMs} ms.`,
    );
    await readModels.recordFailure(subscription.view, 0, failure);
    return { position, retryInMs };
  }

  /** The batch at once; when that fails, one event at a time, to find the one it fails on. */
  private async handle(subscription: Subscription, batch: readonly RecordedEvent[]): Promise<{ delivered: number; failure: ProjectionFailure | null }> {
    try {
      await subscription.handler.handle(new CommittedEvents(batch));
      return { delivered: batch.length, failure: null };
    } catch (batchError) {
      if (batch.length === 1) return { delivered: 0, failure: failureOf(batch[0], batchError, this.clock.now()) };
    }
    for (const [i, event] of batch.entries()) {
      try {
        await subscription.handler.handle(new CommittedEvents([event]));
      } catch (error) {
        return { delivered: i, failure: failureOf(event, error, this.clock.now()) };
      }
    }
    return { delivered: batch.length, failure: null };
  }
}
