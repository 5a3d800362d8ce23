import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { toServiceError } from '../../http-edge/contract-exception.filter';
import { StatusCode } from '../../errors/service-error';
import { EVENT_STORE, EventStore } from '../../event-store/event-store.port';
import { CommandObserver, CommandOutcome } from '../../commands/stream-command.handler';
import { ProjectionsService } from '../../projections/projections.service';
import { SubscribersService } from '../../subscribers/subscribers.service';

/** Route label of a request no route matched: the path itself would let anyone grow the label set. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Latency buckets in seconds: most requests take milliseconds; a write waits for an fsync. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Everything /metrics shows, in a registry of this application's own (not prom-client's global
 * one), so that two apps in one process (tests) never share or clash over counters.
 */
@Injectable()
export class MetricsService implements CommandObserver {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to having sent its answer, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly commands = new Counter({
    name: 'mfa_commands_total',
    help:
      'Commands (on users and username reservations) by outcome: ok (events appended), unchanged (nothing to append), rejected (a rule or ' +
      'permission said no; code names it), aborted (conflicts on every attempt), unavailable (store), failed (bug)',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry],
  });
  private readonly conflicts = new Counter({
    name: 'mfa_command_conflicts_total',
    help: "Appends refused because the user's stream changed after it was read (optimistic concurrency)",
    registers: [this.registry],
  });
  private readonly retries = new Counter({
    name: 'mfa_command_retries_total',
    help: 'Commands decided again after a concurrency conflict',
    registers: [this.registry],
  });
  private readonly appends = new Counter({
    name: 'mfa_event_store_appends_total',
    help: 'Successful appends of user commands to the event store',
    registers: [this.registry],
  });
  private readonly appendedEvents = new Counter({
    name: 'mfa_events_appended_total',
    help: 'Events appended by user commands',
    registers: [this.registry],
  });
  private readonly storeUp = new Gauge({
    name: 'mfa_event_store_up',
    help: '1 when the event store answered the last scrape, else 0',
    registers: [this.registry],
  });
  private readonly head = new Gauge({
    name: 'mfa_event_store_head_position',
    help: 'Global position of the last event in the log',
    registers: [this.registry],
  });
  private readonly projectionPosition = new Gauge({
    name: 'mfa_projection_position',
    help: 'Global position up to which the projection has applied the log',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });
  private readonly projectionLag = new Gauge({
    name: 'mfa_projection_lag_events',
    help: 'Positions of the log the projection has yet to apply (head minus position)',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });
  private readonly subscriptionLag = new Gauge({
    name: 'mfa_subscription_lag_events',
    help: 'Positions of the log the subscriber has yet to handle (head minus its checkpoint)',
    labelNames: ['subscription'] as const,
    registers: [this.registry],
  });
  private readonly subscriptionFailed = new Gauge({
    name: 'mfa_subscription_failed',
    help: '1 while the subscriber is stopped on an event it failed on (it is retried; see the logs), else 0',
    labelNames: ['subscription'] as const,
    registers: [this.registry],
  });
  private readonly projectionFailed = new Gauge({
    name: 'mfa_projection_failed',
    help: '1 when the projection stopped on an event it could not apply (see the logs), else 0',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  /** Followers of the log that are not in SubscribersService (the Actions fan-out): how far each got. */
  private readonly otherSubscriptions = new Map<string, () => Promise<number>>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly projections: ProjectionsService,
    private readonly subscribers: SubscribersService,
  ) {
    collectDefaultMetrics({ register: this.registry });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }

  conflict(retrying: boolean): void {
    this.conflicts.inc();
    if (retrying) this.retries.inc();
  }

  finished(outcome: CommandOutcome): void {
    if ('appended' in outcome) {
      this.commands.inc({ outcome: outcome.appended > 0 ? 'ok' : 'unchanged', code: '' });
      if (outcome.appended > 0) {
        this.appends.inc();
        this.appendedEvents.inc(outcome.appended);
      }
      return;
    }
    const { code } = toServiceError(outcome.error);
    this.commands.inc({ outcome: outcomeOf(code), code: StatusCode[code] ?? String(code) });
  }

  /** Shows the lag of a follower of the log in mfa_subscription_lag_events, read from `position` at each scrape. */
  addSubscription(name: string, position: () => Promise<number>): void {
    this.otherSubscriptions.set(name, position);
  }

  /** The text /metrics answers; store and projection gauges are read now, not on every event. */
  async scrape(): Promise<string> {
    await this.readStoreGauges();
    return this.registry.metrics();
  }

  private async readStoreGauges(): Promise<void> {
    let head: number;
    try {
      head = await this.store.headPosition();
      this.storeUp.set(1);
      this.head.set(head);
      for (const view of await this.projections.describe(head)) {
        const projection = view.name;
        this.projectionPosition.set({ projection }, view.position);
        this.projectionFailed.set({ projection }, view.failure ? 1 : 0);
        this.projectionLag.set({ projection }, view.lagEvents);
      }
      for (const view of await this.subscribers.describe(head)) {
        this.subscriptionLag.set({ subscription: view.name }, view.lagEvents);
        this.subscriptionFailed.set({ subscription: view.name }, view.failure ? 1 : 0);
      }
      for (const [subscription, position] of this.otherSubscriptions) {
        this.subscriptionLag.set({ subscription }, Math.max(0, head - (await position())));
      }
    } catch {
      // An outage shows as mfa_event_store_up 0; /readyz and the logs say more.
      this.storeUp.set(0);
    }
  }
}

function outcomeOf(code: StatusCode): string {
  switch (code) {
    case StatusCode.ABORTED:
      return 'aborted';
    case StatusCode.UNAVAILABLE:
      return 'unavailable';
    case StatusCode.INTERNAL:
      return 'failed';
    default:
      return 'rejected';
  }
}
