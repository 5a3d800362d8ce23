import { Logger } from '@nestjs/common';
import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  excludeSystemEvents,
} from '@eventstore/db-client';
import type {
  AllStreamResolvedEvent,
  AllStreamSubscription,
  AppendExpectedRevision,
  EventData,
  JSONType,
  Position,
  ReadPosition,
  ResolvedEvent,
} from '@eventstore/db-client';
import {
  AppendResult,
  EventMetadata,
  EventStore,
  ExpectedRevision,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoreUnavailableError,
  StreamRead,
  WrongExpectedRevisionError,
} from '../event-store.port';

/** What the adapter logs through; Nest's Logger in the service, a recorder in tests. */
export interface StoreLogger {
  log(message: string): void;
  warn(message: string): void;
}

export interface EventStoreDbOptions {
  logger?: StoreLogger;
  /** Delays between attempts to resubscribe to $all after a drop: doubling from `initialMs` up to `maxMs`. */
  resubscribe?: { initialMs: number; maxMs: number };
}

/** Events fetched per round trip at most when reading $all. */
const SCAN_PAGE = 512;
/** The metadata key that keeps the time the command decided, to the millisecond. */
const CREATED_AT = 'createdAt';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The shape of a recorded event as the client hands it over, JSON or binary. */
interface ClientEvent {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  created: Date;
  isJson: boolean;
  data: unknown;
  metadata: unknown;
  position?: Position;
}

/**
 * The event store on EventStoreDB, through its gRPC client.
 *
 * Mapping: a JSON event with our eventId, type and data (null for none), and as metadata
 * resourceOwner, creator, correlationId and `createdAt` (ISO 8601 with milliseconds): a read gives
 * back the time the command decided; others' events without it fall back to the server's `created`.
 *
 * Positions: an event's `position` is its commit position in $all (a byte offset, exact as a number
 * up to 8 PiB). An append through gRPC writes every event as its own implicitly committed record,
 * whose commit and prepare positions are equal, so we rebuild the full position as { p, p }; reads
 * from a position include the event at it, so readAll skips it. (Events of the old TCP API's
 * explicit transactions share their commit position; this adapter never writes such events.)
 *
 * $all holds the server's system events ($-prefixed types or streams) too; readAll and headPosition
 * skip them (client 6.2.1 sends no server-side filter with readAll), and the live notifications
 * come from a subscription filtered on the server.
 */
export class EventStoreDbEventStore implements EventStore {
  readonly backend = 'eventstoredb';
  /** Where the store is, for operators' messages: hosts only, never credentials. */
  readonly target: string;
  private readonly client: EventStoreDBClient;
  private readonly logger: StoreLogger;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly listeners = new Set<(position: number) => void>();
  /** The live subscription and how to end it without it counting as a drop. */
  private subscription: { stream: AllStreamSubscription; stop(): Promise<void> } | null = null;
  private resubscribeTimer: NodeJS.Timeout | null = null;
  /** Failed subscription attempts since the last confirmed one. */
  private attempts = 0;
  /** The last position the subscription saw (an event or a checkpoint); it resumes after it. */
  private resumeFrom: Position | null = null;
  /** Highest position listeners were told of, so one append is not announced twice. */
  private notifiedUpTo = 0;
  private closed = false;

  constructor(connectionString: string, options: EventStoreDbOptions = {}) {
    this.target = targetOf(connectionString);
    this.client = EventStoreDBClient.connectionString(connectionString);
    this.logger = options.logger ?? new Logger('EventStoreDB');
    this.backoff = options.resubscribe ?? { initialMs: 100, maxMs: 5000 };
  }

  async append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult> {
    this.assertOpen();
    if (events.length === 0) throw new Error('append needs at least one event');
    for (const event of events) {
      if (!UUID.test(event.eventId)) throw new Error(`EventStoreDB needs UUID event ids, got "${event.eventId}"`);
    }
    const proposed = events.map(
      (event) =>
        ({
          id: event.eventId,
          contentType: 'application/json',
          type: event.type,
          data: event.data as JSONType,
          metadata: { ...event.metadata, [CREATED_AT]: event.createdAt.toISOString() },
        }) as EventData,
    );
    let result;
    try {
      result = await this.client.appendToStream(streamId, proposed, { expectedRevision: expectedOf(expected) });
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        throw new WrongExpectedRevisionError(streamId, expected, await this.actualOf(streamId, error));
      }
      throw this.failure(`append to ${streamId}`, error);
    }
    const last = Number(result.nextExpectedRevision);
    const first = last - events.length + 1;
    const positions = await this.positionsOf(streamId, first, events, result.position);
    const recorded = events.map<RecordedEvent>((event, i) => ({
      eventId: event.eventId,
      type: event.type,
      // As a read gives it back: what survives JSON.
      data: event.data === null ? null : (JSON.parse(JSON.stringify(event.data)) as Record<string, unknown>),
      metadata: { ...event.metadata },
      createdAt: new Date(event.createdAt.getTime()),
      streamId,
      revision: first + i,
      position: positions[i],
    }));
    const position = positions[positions.length - 1];
    this.notify(position);
    return { revision: last, position, events: recorded };
  }

  async readStream(streamId: string, { fromRevision = 0, maxCount }: ReadStreamOptions = {}): Promise<StreamRead> {
    this.assertOpen();
    let resolved: ResolvedEvent[];
    try {
      resolved = await collect<ResolvedEvent>(
        this.client.readStream(streamId, {
          direction: FORWARDS,
          fromRevision: fromRevision > 0 ? BigInt(fromRevision) : START,
          ...(maxCount !== undefined ? { maxCount: BigInt(maxCount) } : {}),
        }),
      );
    } catch (error) {
      if (error instanceof StreamNotFoundError) return { events: [], revision: 'no_stream' };
      throw this.failure(`read ${streamId}`, error);
    }
    const events = resolved.flatMap((r) => (r.event ? [toRecorded(r.event as ClientEvent)] : []));
    if (events.length) return { events, revision: events[events.length - 1].revision };
    if (fromRevision === 0) return { events, revision: 'no_stream' };
    // Nothing at or after `fromRevision`: the answer still names the stream's last revision.
    try {
      const [last] = await collect<ResolvedEvent>(this.client.readStream(streamId, { direction: BACKWARDS, fromRevision: END, maxCount: 1n }));
      return { events, revision: last?.event ? Number(last.event.revision) : 'no_stream' };
    } catch (error) {
      if (error instanceof StreamNotFoundError) return { events, revision: 'no_stream' };
      throw this.failure(`read ${streamId}`, error);
    }
  }

  async readAll({ after, limit }: ReadAllOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    if (limit <= 0) return [];
    const found: RecordedEvent[] = [];
    // Reads from a position include the event at it: `seen` is what to skip.
    let seen: Position = after > 0 ? positionAt(after) : { commit: -1n, prepare: -1n };
    let from: ReadPosition = after > 0 ? seen : START;
    for (let page = 0; ; page++) {
      // Enough for the events still wanted, the one at `from`, and a few system events.
      const count = Math.min(SCAN_PAGE, limit - found.length + 1);
      let read: AllStreamResolvedEvent[];
      try {
        read = await collect<AllStreamResolvedEvent>(this.client.readAll({ fromPosition: from, direction: FORWARDS, maxCount: count }));
      } catch (error) {
        if (page === 0 && from !== START && isInvalidPosition(error)) {
          // `after` is not where a record starts (ours always are; a caller's arbitrary number need
          // not be): find the first event after it and read from there.
          const next = await this.firstEventAfter(after);
          if (!next) return [];
          from = next;
          continue;
        }
        throw this.failure(`read $all after position ${after}`, error);
      }
      for (const { event } of read) {
        if (!event || compare(event.position, seen) <= 0) continue;
        seen = event.position;
        if (isSystem(event)) continue;
        found.push(toRecorded(event as ClientEvent));
        if (found.length === limit) return found;
      }
      if (read.length < count) return found;
      from = seen;
    }
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    try {
      let from: ReadPosition = END;
      // Usually the last event is ours: one event is enough. Past system events, read further back.
      for (let count = 1; ; count = SCAN_PAGE) {
        const read: AllStreamResolvedEvent[] = await collect<AllStreamResolvedEvent>(
          this.client.readAll({ fromPosition: from, direction: BACKWARDS, maxCount: count }),
        );
        for (const { event } of read) {
          if (!event) continue;
          if (!isSystem(event)) return Number(event.position.commit);
          from = event.position;
        }
        if (read.length < count) return 0;
      }
    } catch (error) {
      throw this.failure('read the head of $all', error);
    }
  }

  /**
   * Our own appends are announced as soon as they return; everyone's (other instances' too) come
   * through a catch-up subscription to $all, from its end, filtered on the server to non-system
   * event types, which resubscribes with exponential backoff when it drops.
   */
  onAppended(listener: (position: number) => void): () => void {
    this.listeners.add(listener);
    if (!this.subscription && !this.resubscribeTimer && !this.closed) this.subscribe();
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.resubscribeTimer) clearTimeout(this.resubscribeTimer);
    this.resubscribeTimer = null;
    await this.subscription?.stop();
    await this.client.dispose();
  }

  /**
   * Resumes from the last position seen, whole: a checkpoint of a filtered subscription can be
   * { commit: X, prepare: 0 }, the start of a record not yet delivered; resuming from { X, X }
   * (the commit alone) would skip that record.
   */
  private subscribe(): void {
    const from: ReadPosition = this.resumeFrom ?? END;
    const subscription = this.client.subscribeToAll({
      fromPosition: from,
      filter: excludeSystemEvents({ checkpointReached: (_subscription, position) => this.advance(position) }),
    });
    let over = false;
    const stop = async () => {
      over = true;
      if (this.subscription?.stream === subscription) this.subscription = null;
      await subscription.unsubscribe().catch(() => undefined);
    };
    const drop = (reason: string) => {
      if (over) return;
      void stop();
      if (!this.closed) this.resubscribeLater(reason);
    };
    this.subscription = { stream: subscription, stop };
    subscription.on('confirmation', () => this.confirmed(subscription));
    subscription.on('data', ({ event }: AllStreamResolvedEvent) => {
      if (!event || over) return;
      this.advance(event.position);
      const position = Number(event.position.commit);
      if (!isSystem(event) && position > this.notifiedUpTo) this.notify(position);
    });
    subscription.on('error', (error: Error) => {
      if (isInvalidPosition(error) && this.resumeFrom) {
        // Not where a record starts in this database (it was replaced): follow it from its end.
        this.logger.warn(`$all at ${this.target} has no record at ${describePosition(this.resumeFrom)}; following it from its end`);
        this.resumeFrom = null;
      }
      drop(describe(error));
    });
    subscription.on('end', () => drop('the server ended it'));
    subscription.on('close', () => drop('its stream closed'));
  }

  private resubscribeLater(reason: string): void {
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempts);
    this.attempts += 1;
    this.logger.warn(
      `the subscription to $all at ${this.target} dropped (${reason}); resubscribing in ${delay} ms ` +
        `from ${describePosition(this.resumeFrom)}`,
    );
    this.resubscribeTimer = setTimeout(() => {
      this.resubscribeTimer = null;
      if (this.closed) return;
      this.logger.log(`resubscribing to $all at ${this.target} (attempt ${this.attempts}) from ${describePosition(this.resumeFrom)}`);
      this.subscribe();
    }, delay);
    this.resubscribeTimer.unref();
  }

  private confirmed(subscription: AllStreamSubscription): void {
    if (this.attempts === 0) return;
    this.logger.log(`resubscribed to $all at ${this.target} after ${this.attempts} attempt(s)`);
    this.attempts = 0;
    void this.afterOutage(subscription);
  }

  /**
   * After an outage: if $all now ends before where we were, the database was replaced (a wiped
   * node, a test emulator restarted): follow it from its end, since a subscription from our old
   * position would stay silent. Either way tell listeners, so they read what they missed.
   */
  private async afterOutage(subscription: AllStreamSubscription): Promise<void> {
    let head: number;
    try {
      head = await this.headPosition();
    } catch {
      return; // it dropped again; the next resubscription comes back here
    }
    if (this.resumeFrom && BigInt(head) < this.resumeFrom.commit && this.subscription?.stream === subscription) {
      this.logger.warn(
        `$all at ${this.target} now ends at position ${head}, before ${describePosition(this.resumeFrom)} ` +
          'where this subscription was: the database was replaced or reset; following it from its end',
      );
      this.resumeFrom = null;
      this.notifiedUpTo = head;
      await this.subscription.stop();
      if (!this.closed) this.subscribe();
    }
    this.notify(head);
  }

  private advance(position: Position): void {
    if (!this.resumeFrom || compare(position, this.resumeFrom) > 0) this.resumeFrom = position;
  }

  private notify(position: number): void {
    this.notifiedUpTo = Math.max(this.notifiedUpTo, position);
    for (const listener of [...this.listeners]) {
      try {
        listener(position);
      } catch (error) {
        this.logger.warn(`an onAppended listener failed: ${describe(error)}`);
      }
    }
  }

  /**
   * The positions of the events an append wrote. The server answers with the last one only;
   * the earlier ones of a multi-event append are read back by revision (revisions never change).
   */
  private async positionsOf(
    streamId: string,
    first: number,
    events: readonly NewEvent[],
    last: Position | undefined,
  ): Promise<number[]> {
    if (events.length === 1 && last) return [Number(last.commit)];
    try {
      const read = await collect<ResolvedEvent>(
        this.client.readStream(streamId, { fromRevision: BigInt(first), maxCount: events.length }),
      );
      const positions = read.map((r) => r.event?.position?.commit);
      if (positions.length === events.length && positions.every((p) => p !== undefined)) {
        if (read.every((r, i) => r.event?.id.toLowerCase() === events[i].eventId.toLowerCase())) {
          return positions.map((p) => Number(p));
        }
      }
      throw new Error('the events read back are not the ones appended');
    } catch (error) {
      if (!last) throw this.failure(`read back the positions of the events appended to ${streamId}`, error);
      // The append is durable; only the earlier events' exact positions are unknown. Give them
      // positions just below the last one: in order, and after every earlier event of $all.
      this.logger.warn(
        `appended ${events.length} events to ${streamId} but could not read back their positions ` +
          `(${describe(error)}); the earlier ones get approximate positions`,
      );
      const end = Number(last.commit);
      return events.map((_, i) => end - (events.length - 1 - i));
    }
  }

  /** The stream's actual revision from a WrongExpectedVersion answer, or by reading it when absent. */
  private async actualOf(streamId: string, error: WrongExpectedVersionError): Promise<number | 'no_stream'> {
    const actual = error.actualVersion;
    if (actual === NO_STREAM) return 'no_stream';
    if (typeof actual === 'bigint') return Number(actual);
    return (await this.readStream(streamId)).revision;
  }

  /** Our first event after `after` (a position not on a record boundary), scanning back from the end. */
  private async firstEventAfter(after: number): Promise<Position | null> {
    let earliest: Position | null = null;
    let from: ReadPosition = END;
    try {
      for (;;) {
        const read: AllStreamResolvedEvent[] = await collect<AllStreamResolvedEvent>(
          this.client.readAll({ fromPosition: from, direction: BACKWARDS, maxCount: SCAN_PAGE }),
        );
        for (const { event } of read) {
          if (!event) continue;
          if (event.position.commit <= BigInt(after)) return earliest;
          earliest = event.position;
          from = event.position;
        }
        if (read.length < SCAN_PAGE) return earliest;
      }
    } catch (error) {
      throw this.failure(`find the first event after position ${after}`, error);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('the EventStoreDB event store is closed');
  }

  private failure(action: string, error: unknown): StoreUnavailableError {
    if (error instanceof StoreUnavailableError) return error;
    return new StoreUnavailableError(`EventStoreDB at ${this.target} could not ${action}: ${describe(error)}`, {
      cause: error,
    });
  }
}

function expectedOf(expected: ExpectedRevision): AppendExpectedRevision {
  if (expected === 'any') return ANY;
  if (expected === 'no_stream') return NO_STREAM;
  return BigInt(expected);
}

function toRecorded(event: ClientEvent): RecordedEvent {
  const { [CREATED_AT]: createdAt, ...metadata } = isObject(event.metadata) ? event.metadata : {};
  const decided = typeof createdAt === 'string' ? new Date(createdAt) : null;
  return {
    eventId: event.id,
    type: event.type,
    data: dataOf(event),
    metadata: metadata as unknown as EventMetadata,
    createdAt: decided && !Number.isNaN(decided.getTime()) ? decided : event.created,
    streamId: event.streamId,
    revision: Number(event.revision),
    // Servers before 22.6 leave out a stream event's $all position; nothing reads it from there.
    position: event.position ? Number(event.position.commit) : 0,
  };
}

/** JSON data as parsed by the client; binary data (another writer's) read as JSON when it is. */
function dataOf(event: ClientEvent): Record<string, unknown> | null {
  let data = event.data;
  if (data instanceof Uint8Array) {
    try {
      data = data.length ? JSON.parse(Buffer.from(data).toString('utf8')) : null;
    } catch {
      return null;
    }
  }
  return data === undefined ? null : (data as Record<string, unknown> | null);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && !Array.isArray(value);

/** The server's own events: $-prefixed types ($metadata, $>, $statsCollected) or $-streams. */
const isSystem = (event: { type: string; streamId: string }): boolean =>
  event.type.startsWith('$') || event.streamId.startsWith('$');

const positionAt = (position: number): Position => ({ commit: BigInt(position), prepare: BigInt(position) });

function compare(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  return a.prepare === b.prepare ? 0 : a.prepare < b.prepare ? -1 : 1;
}

const describePosition = (position: Position | null): string =>
  position ? `position ${position.commit}/${position.prepare}` : 'the end';

function describe(error: unknown): string {
  return error instanceof Error ? error.message || error.constructor.name : String(error);
}

/** The server rejects a read of $all from inside a record with INVALID_ARGUMENT. */
function isInvalidPosition(error: unknown): boolean {
  return (error as { code?: number })?.code === 3 && /invalid position/i.test(describe(error));
}

async function collect<T>(readable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of readable) items.push(item);
  return items;
}

/** Hosts of a connection string, without scheme, credentials or options. */
export function targetOf(connectionString: string): string {
  const rest = connectionString.replace(/^[a-z+]+:\/\//i, '');
  const hosts = rest.split(/[/?]/, 1)[0];
  return hosts.slice(hosts.lastIndexOf('@') + 1);
}
