import { Logger } from '@nestjs/common';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ActionsConfig } from '../../config/config';
import { Clock } from '../../shared/clock';
import { CoalescedRun } from '../../shared/coalesced-run';
import { TargetState } from '../actions.state';
import { SIGNATURE_HEADER, backoffMs, signatureOf } from './event-body';
import { Delivery, OutboxStore } from './outbox.port';

/** Besides being woken, the sender looks for due deliveries this often (redeliveries by other instances). */
const POLL_MS = 1000;

/** What the sender reports, for /metrics. */
export interface DeliveryObserver {
  attempt(targetId: string, delivered: boolean): void;
  finished(targetId: string, outcome: 'delivered' | 'parked'): void;
}

/** A target's requests under way, and until when it is left alone after a failure. */
interface Lane {
  inFlight: Map<number, string>;
  restingUntil: number;
}

/**
 * Sends the outbox's deliveries, each target on its own: at most `maxInFlightPerTarget` requests
 * at once, one at a time per user (the outbox hands out only the first pending delivery of each
 * user), each bounded by the target's timeout. A target that fails is left alone until its failed
 * delivery is due again, so one that is down costs a few requests per backoff period, not one per
 * delivery waiting for it; the other targets never wait for it.
 */
export class Dispatcher {
  private readonly lanes = new Map<string, Lane>();
  private readonly runs = new CoalescedRun(
    () => this.pump(),
    () => !this.stopped,
  );
  private readonly sending = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private poll: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly stopping = new AbortController();

  constructor(
    private readonly outbox: OutboxStore,
    private readonly targets: () => ReadonlyMap<string, TargetState>,
    private readonly options: ActionsConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly observer: DeliveryObserver,
    /** The signing key as a target's events keep it, made usable (see SigningKeyCipher). */
    private readonly signingKeyOf: (stored: string) => string,
    private readonly random: () => number = Math.random,
  ) {}

  start(): void {
    this.poll = setInterval(() => this.wake(), POLL_MS).unref();
    this.wake();
  }

  /** New deliveries may be due. */
  wake(): void {
    if (this.stopped) return;
    this.runs.run().catch((error: unknown) => this.logger.warn(`the sender could not read the outbox; trying again: ${String(error)}`));
  }

  /** Stops sending; requests under way are cut off and left pending, to be sent again by the next sender. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    if (this.poll) clearInterval(this.poll);
    for (const timer of this.timers) clearTimeout(timer);
    await this.runs.settled();
    await Promise.allSettled([...this.sending]);
  }

  private async pump(): Promise<void> {
    for (const target of this.targets().values()) {
      if (this.stopped) return;
      const lane = this.laneOf(target.id);
      const now = this.clock.now();
      const free = this.options.maxInFlightPerTarget - lane.inFlight.size;
      if (free <= 0 || lane.restingUntil > now.getTime()) continue;
      const users = new Set(lane.inFlight.values());
      for (const delivery of await this.outbox.due(target.id, now, free + lane.inFlight.size)) {
        if (lane.inFlight.size >= this.options.maxInFlightPerTarget) break;
        if (lane.inFlight.has(delivery.id) || users.has(delivery.aggregateId)) continue;
        users.add(delivery.aggregateId);
        lane.inFlight.set(delivery.id, delivery.aggregateId);
        const sent = this.send(target, delivery, lane).finally(() => {
          this.sending.delete(sent);
          lane.inFlight.delete(delivery.id);
          this.wake();
        });
        this.sending.add(sent);
      }
    }
  }

  private async send(target: TargetState, delivery: Delivery, lane: Lane): Promise<void> {
    const attempts = delivery.attempts + 1;
    const failure = await this.post(target, delivery.body);
    if (this.stopped) return;
    this.observer.attempt(target.id, failure === null);
    try {
      if (failure === null) {
        await this.outbox.delivered(delivery.id, attempts, this.clock.now());
        this.observer.finished(target.id, 'delivered');
        return;
      }
      const parked = attempts >= this.options.maxAttempts;
      const waitMs = backoffMs(attempts, this.options.retryInitialMs, this.options.retryMaxMs, this.random());
      const next = parked ? null : new Date(this.clock.now().getTime() + waitMs);
      await this.outbox.failed(delivery.id, attempts, failure, next);
      this.logger.warn(
        `delivery ${delivery.id} of ${delivery.eventType} (user ${delivery.aggregateId}, sequence ${delivery.sequence}) ` +
          `to target ${target.id} (${target.name}) failed on try ${attempts}: ${failure}; ` +
          (next ? `next try at ${next.toISOString()}` : `parked after ${attempts} tries`),
      );
      if (parked) this.observer.finished(target.id, 'parked');
      else this.rest(lane, next!.getTime());
    } catch (error) {
      // The outcome could not be recorded: the delivery stays pending and is sent again (at least once).
      this.logger.warn(`the outcome of delivery ${delivery.id} could not be recorded; it will be sent again: ${String(error)}`);
    }
  }

  /** Null when the target took it: a 2xx within its timeout. Redirects are not followed: only the configured address is called. */
  private async post(target: TargetState, body: string): Promise<string | null> {
    let signingKey: string;
    try {
      signingKey = this.signingKeyOf(target.signingKey);
    } catch (error) {
      return (error as Error).message;
    }
    const headers = { 'content-type': 'application/json', [SIGNATURE_HEADER]: signatureOf(body, signingKey, this.clock.now()) };
    try {
      const status = await postTo(target.endpoint, headers, body, AbortSignal.any([AbortSignal.timeout(target.timeoutMs), this.stopping.signal]));
      return status >= 200 && status < 300 ? null : `status ${status}`;
    } catch (error) {
      const { name, message, code } = error as Error & { code?: string };
      if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${target.timeoutMs} ms`;
      return code ?? message;
    }
  }

  private rest(lane: Lane, until: number): void {
    lane.restingUntil = Math.max(lane.restingUntil, until);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.wake();
    }, Math.max(0, until - this.clock.now().getTime()) + 5).unref();
    this.timers.add(timer);
  }

  private laneOf(targetId: string): Lane {
    let lane = this.lanes.get(targetId);
    if (!lane) this.lanes.set(targetId, (lane = { inFlight: new Map(), restingUntil: 0 }));
    return lane;
  }
}

/**
 * POSTs `body` and answers the status; a redirect is a status like any other, never followed. Node's
 * own client rather than fetch: fetch refuses the ports browsers block (6000, 6665...), which an
 * operator's endpoint may well use, as ZITADEL's Go client allows.
 */
function postTo(endpoint: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<number> {
  const url = new URL(endpoint);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const request = send(url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, signal }, (response) => {
      // The answer's body is not needed, but it is read so that the connection can be kept for the next request.
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', reject);
    });
    request.on('error', (error) => reject(signal.aborted ? signal.reason : error));
    request.end(body);
  });
}
