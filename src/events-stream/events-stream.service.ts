import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Caller } from '../auth/caller';
import { Config } from '../config/config';
import { CONFIG } from '../config/config.module';
import { Errors } from '../errors/errors';
import { EVENT_STORE, EventStore } from '../event-store/event-store.port';
import { RequestRecorder } from '../ops/logging/request.recorder';
import { CLOCK, type Clock } from '../shared/clock';
import { HEARTBEAT_FRAME, expiredFrame, frameOf } from './event-frame';

/** Events read from the log per query. */
const READ_BATCH = 500;
/** A stream also looks at the log this often, for events appended by other processes. */
const POLL_MS = 1000;
const DEFAULT_HEARTBEAT_MS = 15_000;
/** Longest a timer can wait in Node (about 24.8 days); a token valid longer is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The head of every stream's answer. */
export const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  // Proxies such as nginx would otherwise hold events back in their buffers.
  'x-accel-buffering': 'no',
} as const;

/** The request a stream answers, for its log line. */
export interface StreamRequest {
  id: string;
  url: string;
  /** Headers the edge set for every answer (request id, security, CORS), which a raw response would not send. */
  headers?: Readonly<Record<string, string | number | string[] | undefined>>;
}

/** One open stream: a cursor in the log and the response it writes to. */
class EventStream {
  closed = false;
  private wake: (() => void) | null = null;
  private readonly timers: NodeJS.Timeout[];
  readonly done: Promise<void>;

  constructor(
    private readonly store: EventStore,
    private readonly response: ServerResponse,
    /** Global position of the last event sent (or skipped by the filter). */
    private position: number,
    private readonly types: ReadonlySet<string> | null,
    heartbeatMs: number,
    /** How long its token stays valid. */
    validForMs: number,
    private readonly logger: Logger,
    onEnd: () => void,
  ) {
    this.timers = [
      setInterval(() => this.write(HEARTBEAT_FRAME), heartbeatMs),
      setInterval(() => this.notify(), POLL_MS),
      // A stream is served as long as its token is: then the client reconnects with a fresh one.
      setTimeout(() => this.expire(), Math.min(Math.max(0, validForMs), MAX_TIMER_MS)),
    ];
    response.on('close', () => this.close());
    this.done = this.pump().finally(() => {
      this.close();
      onEnd();
    });
  }

  /** New events may be in the log. */
  notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.notify();
    if (!this.response.writableEnded) {
      // Destroying the socket once the end is flushed frees the connection for a server that is closing.
      this.response.end(() => this.response.socket?.destroy());
    }
  }

  /** The last frame names where the stream got to, so that a reconnection resumes without a gap. */
  private expire(): void {
    this.write(expiredFrame(this.position));
    this.close();
  }

  /** Sends history after the cursor, then follows the log until the client or the server goes. */
  private async pump(): Promise<void> {
    try {
      while (!this.closed) {
        const woken = new Promise<void>((resolve) => (this.wake = resolve));
        const batch = await this.store.readAll({ after: this.position, limit: READ_BATCH });
        for (const event of batch) {
          if (this.closed) return;
          if (!this.types || this.types.has(event.type)) {
            if (!this.write(frameOf(event))) await this.drained();
          }
          this.position = event.position;
        }
        if (batch.length < READ_BATCH) await woken;
      }
    } catch (error) {
      // The client reconnects with Last-Event-ID and misses nothing.
      if (!this.closed) this.logger.warn(`an event stream ends: ${(error as Error).message}`);
    }
  }

  private write(frame: string): boolean {
    if (this.closed || this.response.writableEnded) return true;
    return this.response.write(frame);
  }

  /** Waits until a slow client has taken what was written, so memory stays flat. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.response.off('drain', done);
        this.response.off('close', done);
        resolve();
      };
      this.response.once('drain', done);
      this.response.once('close', done);
    });
  }
}

/**
 * Server-Sent Events of the log for subscribers outside the service. Each stream replays the
 * events after its Last-Event-ID, then follows new ones (woken by the store's notifications, and
 * by a poll for other processes' appends). Positions only grow and every event up to a position is
 * visible once that position is, so a stream resumed after the last id it received gets every
 * later event exactly once. Streams are capped per caller and in all, and each ends when its
 * token does.
 */
@Injectable()
export class EventsStreamService implements OnModuleDestroy {
  private readonly logger = new Logger('EventsStream');
  private readonly streams = new Map<EventStream, string>();
  private unsubscribe: (() => void) | null = null;
  private closing = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CONFIG) private readonly config: Config,
    private readonly recorder: RequestRecorder,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Throws 429 code 8 when the caller, or everyone together, holds as many streams as allowed. */
  admit(caller: Caller): void {
    const mine = [...this.streams.values()].filter((userId) => userId === caller.userId).length;
    if (mine >= this.config.eventsStreamMaxPerCaller) throw Errors.tooManyStreams('EVENTS_STREAM_MAX_PER_CALLER');
    if (this.streams.size >= this.config.eventsStreamMax) throw Errors.tooManyStreams('EVENTS_STREAM_MAX');
  }

  /** Starts streaming into a response whose head the caller has not written yet. */
  open(request: StreamRequest, response: ServerResponse, after: number, types: ReadonlySet<string> | null, caller: Caller): void {
    const started = performance.now();
    response.writeHead(200, {
      ...request.headers,
      ...STREAM_HEADERS,
      connection: 'keep-alive',
    });
    response.write(`retry: 2000\n\n`);
    if (this.closing) {
      response.end();
      return;
    }
    this.unsubscribe ??= this.store.onAppended(() => {
      for (const stream of this.streams.keys()) stream.notify();
    });
    const heartbeatMs = this.config.eventsStreamHeartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const validForMs = (caller.validUntil ?? Infinity) - this.clock.now().getTime();
    const stream: EventStream = new EventStream(this.store, response, after, types, heartbeatMs, validForMs, this.logger, () => {
      this.streams.delete(stream);
      const record = { reqId: request.id, method: 'GET', route: '/v2/events/_stream', url: request.url };
      this.recorder.record({ ...record, statusCode: 200, ms: performance.now() - started });
    });
    this.streams.set(stream, caller.userId);
  }

  /** Ends every stream before the server closes, so that shutdown never waits on one. */
  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    this.unsubscribe?.();
    const streams = [...this.streams.keys()];
    if (streams.length) this.logger.log(`closing ${streams.length} event stream(s) for shutdown`);
    for (const stream of streams) stream.close();
    await Promise.all(streams.map((stream) => stream.done));
  }
}
