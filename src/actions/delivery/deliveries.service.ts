import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Config } from '../../config/config';
import { CONFIG } from '../../config/config.module';
import { EVENT_STORE, EventStore, RecordedEvent } from '../../event-store/event-store.port';
import { MetricsService } from '../../ops/metrics/metrics.service';
import { Follower, FollowStep } from '../../projections/follower';
import { CLOCK, Clock } from '../../shared/clock';
import { ACTIONS_STREAM, ActionEventType } from '../action.events';
import { SIGNING_KEY_CIPHER, SigningKeyCipher } from '../signing-key-cipher';
import { ActionsState, actionsStateFromJson, actionsStateToJson, evolveActions, initialActionsState, targetsFor } from '../actions.state';
import { DeliveriesMetrics } from './deliveries.metrics';
import { Dispatcher } from './dispatcher';
import { eventBodyOf } from './event-body';
import { DeliveryPage, DeliverySearch, NewDelivery, OUTBOX_STORE, OutboxStore, RedeliverOutcome } from './outbox.port';

/** Events turned into deliveries per transaction. */
const BATCH_SIZE = 500;
/**
 * The sender reads the log this often rather than on every commit: deliveries are asynchronous
 * anyway, and a fan-out of many events at once writes the outbox's pages once, not once per event.
 */
const FAN_OUT_EVERY_MS = 200;
/** How often an instance that does not send tries to take the lease, and the sender checks it still holds it. */
const LEASE_CHECK_MS = 1000;
/** Events read past without a delivery before the checkpoint is saved anyway: a restart reads at most these again. */
const SAVE_EVERY = 10_000;
/** How often the sender removes delivered deliveries older than ACTIONS_DELIVERED_RETENTION_HOURS. */
const PRUNE_EVERY_MS = 3_600_000;
/** Deliveries removed per statement, so that pruning a large backlog never holds the outbox long. */
const PRUNE_BATCH = 5000;
/** Only user events go to targets: the service's other streams (targets, username reservations) are its own business. */
const USER_STREAM = 'user-';

/**
 * Delivers committed events to Actions targets. One instance of those sharing a store (the one
 * holding the outbox's lease) follows the log: in one transaction per batch it turns each matching
 * event into a delivery per target and moves its checkpoint, keeping the targets and executions as
 * the log had them at that point. The same instance sends the deliveries (Dispatcher). After a
 * crash, the next leader resumes from the checkpoint; a request that was under way is sent again.
 */
@Injectable()
export class DeliveriesService implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Actions');
  private config: ActionsState = initialActionsState;
  private saved = 0;
  private follower: Follower | null = null;
  private dispatcher: Dispatcher | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  private fanOutTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private pruning: Promise<void> | null = null;
  private checking: Promise<void> | null = null;
  private metrics!: DeliveriesMetrics;
  private closed = false;

  constructor(
    @Inject(OUTBOX_STORE) private readonly outbox: OutboxStore,
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(CONFIG) private readonly settings: Config,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metricsService: MetricsService,
    @Inject(SIGNING_KEY_CIPHER) private readonly cipher: SigningKeyCipher,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.outbox.prepare();
    this.metrics = new DeliveriesMetrics(this.metricsService.registry, this.outbox, this.clock);
    // The sender's own position; on the other instances, the checkpoint the sender saved.
    this.metricsService.addSubscription('actions_deliveries', async () => this.follower?.position ?? (await this.outbox.checkpoint()).position);
    this.leaseTimer = setInterval(() => this.checkLease(), LEASE_CHECK_MS).unref();
    this.checkLease();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    await this.checking;
    await this.stepDown();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.outbox.close();
  }

  /** True while this instance is the one that sends. */
  get leading(): boolean {
    return this.follower !== null;
  }

  search(search: DeliverySearch): Promise<DeliveryPage> {
    return this.outbox.search(search);
  }

  async redeliver(id: number): Promise<RedeliverOutcome> {
    // The targets as the fan-out last saw them: every instance reads the same, leader or not.
    const { targets } = actionsStateFromJson((await this.outbox.checkpoint()).config);
    const outcome = await this.outbox.redeliver(id, this.clock.now(), (targetId) => targets.has(targetId));
    this.dispatcher?.wake();
    return outcome;
  }

  private checkLease(): void {
    if (this.checking || this.closed) return;
    this.checking = (async () => {
      try {
        if (this.leading) {
          if (!(await this.outbox.holdsLease())) {
            this.logger.warn('lost the lease of the Actions sender; another instance takes over');
            await this.stepDown();
          }
        } else if (await this.outbox.tryLease()) {
          await this.lead();
        }
      } catch (error) {
        this.logger.warn(`the lease of the Actions sender could not be checked: ${String(error)}`);
      } finally {
        this.checking = null;
      }
    })();
  }

  private async lead(): Promise<void> {
    if (this.closed) return;
    const { position, config } = await this.outbox.checkpoint();
    this.config = actionsStateFromJson(config);
    this.saved = position;
    const signingKeyOf = (stored: string) => this.cipher.open(stored);
    this.dispatcher = new Dispatcher(this.outbox, () => this.config.targets, this.settings.actions, this.clock, this.logger, this.metrics, signingKeyOf);
    this.follower = new Follower(this.events, position, (batch) => this.fanOut(batch), {
      name: 'Actions deliveries',
      batchSize: BATCH_SIZE,
      logger: this.logger,
    });
    this.logger.log(`this instance sends the Actions deliveries (outbox in ${this.outbox.backend}, from position ${position})`);
    const follower = this.follower;
    this.fanOutTimer = setInterval(() => void follower.catchUp(), FAN_OUT_EVERY_MS).unref();
    void follower.catchUp();
    this.dispatcher.start();
    if (this.settings.actions.deliveredRetentionMs > 0) {
      this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS).unref();
      this.prune();
    }
  }

  /** Removes what was delivered longer ago than the retention, in batches; pending and parked deliveries stay. */
  private prune(): void {
    if (this.pruning) return;
    const before = new Date(this.clock.now().getTime() - this.settings.actions.deliveredRetentionMs);
    this.pruning = (async () => {
      let removed = 0;
      try {
        let batch: number;
        do {
          batch = await this.outbox.pruneDelivered(before, PRUNE_BATCH);
          removed += batch;
          // SQLite answers synchronously: let requests in between batches.
          await new Promise((resolve) => setImmediate(resolve));
        } while (batch === PRUNE_BATCH && this.leading);
        if (removed > 0) this.logger.log(`removed ${removed} deliveries delivered before ${before.toISOString()} (ACTIONS_DELIVERED_RETENTION_HOURS)`);
      } catch (error) {
        this.logger.warn(`delivered deliveries could not be removed; tried again in an hour: ${String(error)}`);
      } finally {
        this.pruning = null;
      }
    })();
  }

  private async stepDown(): Promise<void> {
    const { follower, dispatcher } = this;
    if (this.fanOutTimer) clearInterval(this.fanOutTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.follower = null;
    this.dispatcher = null;
    await follower?.stop();
    await dispatcher?.stop();
    await this.pruning;
  }

  /** A batch of the log as deliveries, in one transaction with the checkpoint and the configuration as of its last event. */
  private async fanOut(batch: readonly RecordedEvent[]): Promise<FollowStep> {
    if (batch.length === 0) return { position: this.follower?.position ?? 0 };
    let config = this.config;
    const deliveries: NewDelivery[] = [];
    const removed: string[] = [];
    for (const event of batch) {
      if (event.streamId === ACTIONS_STREAM) {
        config = evolveActions(config, event);
        if (event.type === ActionEventType.TargetRemoved) removed.push((event.data as { targetId: string }).targetId);
        continue;
      }
      if (!event.streamId.startsWith(USER_STREAM)) continue;
      const targets = targetsFor(config, event.type);
      if (targets.length === 0) continue;
      const body = eventBodyOf(event, this.settings.actions.instanceId);
      for (const target of targets) {
        deliveries.push({
          targetId: target.id,
          aggregateId: event.streamId.slice(USER_STREAM.length),
          eventType: event.type,
          sequence: event.revision + 1,
          position: event.position,
          body,
        });
      }
    }
    const position = batch[batch.length - 1].position;
    if (deliveries.length || config !== this.config || position - this.saved >= SAVE_EVERY) {
      await this.outbox.commit(deliveries, removed, position, actionsStateToJson(config), this.clock.now());
      this.saved = position;
    }
    this.config = config;
    if (deliveries.length) this.dispatcher?.wake();
    return { position };
  }
}
