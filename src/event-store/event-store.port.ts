/** The event store port of every backend; only an adapter knows its driver, and turns its errors into the ones below. */

/** Metadata every event carries, as the contract requires. */
export interface EventMetadata {
  /** Id of the organization that owns the aggregate. */
  resourceOwner: string;
  /** Id of the acting user. */
  creator: string;
  /** Id of the request that caused the event. */
  correlationId: string;
}

export interface NewEvent {
  /** Unique id of this event: no two events of a store share one. */
  eventId: string;
  type: string;
  /** JSON payload; null for events without one. */
  data: Record<string, unknown> | null;
  metadata: EventMetadata;
  /** Time of the event, passed in by the caller so tests can pin it. */
  createdAt: Date;
}

export interface RecordedEvent extends NewEvent {
  streamId: string;
  /** 0-based position of the event in its stream. */
  revision: number;
  /** Position in the global log: strictly increasing in commit order, never reused. */
  position: number;
}

/** What the appender believes the stream looks like: its last revision, no stream at all, or anything. */
export type ExpectedRevision = number | 'no_stream' | 'any';

export interface AppendResult {
  /** Revision of the last event appended. */
  revision: number;
  /** Global position of the last event appended. */
  position: number;
  events: RecordedEvent[];
}

export interface StreamRead {
  events: RecordedEvent[];
  /** Revision of the last event, or 'no_stream' when the stream has none. */
  revision: number | 'no_stream';
}

export interface ReadStreamOptions {
  /** Only events at or after this revision (all when absent). `revision` in the answer is still the stream's last. */
  fromRevision?: number;
  /** At most this many events from `fromRevision` on: a long stream is read a page at a time. */
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive lower bound; 0 reads from the beginning. */
  after: number;
  /** Upper bound on the number of events returned. */
  limit: number;
}

export interface EventStore {
  /** Human-readable name of the backend, for logs and status. */
  readonly backend: string;
  /**
   * Appends atomically when the stream's last revision is `expected`; otherwise throws
   * WrongExpectedRevisionError and appends nothing. Resolves only once the events are durable.
   */
  append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<StreamRead>;
  /** Events after a global position, in global order. */
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Position of the last event in the log (0 when empty). */
  headPosition(): Promise<number>;
  /**
   * Calls `listener` with the position of new events once they are committed (by this process or,
   * where the backend can tell, another). Returns a function that stops the notifications.
   */
  onAppended(listener: (position: number) => void): () => void;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EventStore');

/** The stream was not at the expected revision: someone else appended first. */
export class WrongExpectedRevisionError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no_stream',
  ) {
    super(`stream ${streamId} is at revision ${actual}, expected ${expected}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** The backend cannot be reached or failed; nothing was written. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
