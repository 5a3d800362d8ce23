import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  AppendResult,
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
import { CommittedTail } from '../committed-tail';
import type { WriterMessage, WriterReply } from './sqlite-append.worker';
import { AppendRequest, BatchOutcome, SqliteAppendWriter, openEventsDatabase } from './sqlite-append.writer';

/** Versioned schema: entry i brings a database from user_version i to i + 1. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
     position   INTEGER PRIMARY KEY AUTOINCREMENT,
     stream_id  TEXT    NOT NULL,
     revision   INTEGER NOT NULL,
     event_id   TEXT    NOT NULL UNIQUE,
     type       TEXT    NOT NULL,
     data       TEXT,
     metadata   TEXT    NOT NULL,
     created_at INTEGER NOT NULL,
     UNIQUE (stream_id, revision)
   );
   CREATE INDEX events_type_position ON events (type, position);`,
];

/** Appends in one transaction at most; more wait for the next one. */
const MAX_BATCH = 2000;
/**
 * Up to this many types, a read by type takes one index range per type (see ofTypes); with more,
 * it walks the log instead, as one statement of many ranges would cost more to prepare and keep.
 */
const MAX_TYPE_RANGES = 8;
/** Page cache of the reading connection (KiB): the indexes a stream read walks stay in memory. */
const READ_CACHE_KIB = 8 * 1024;

/**
 * A row of the events table as an array, in the order of EVENT_COLUMNS: reading rows as arrays
 * (`raw`) instead of objects made a replay of a million events about 8% faster.
 */
type EventRow = [
  position: number,
  streamId: string,
  revision: number,
  eventId: string,
  type: string,
  data: string | null,
  metadata: string,
  createdAt: number,
];
const EVENT_COLUMNS = 'position, stream_id, revision, event_id, type, data, metadata, created_at';

interface PendingAppend {
  streamId: string;
  expected: ExpectedRevision;
  events: readonly NewEvent[];
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

export function migrateSqlite(db: Database.Database, migrations: readonly string[]): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/** Where batches of appends are committed. */
interface BatchWriter {
  write(batch: AppendRequest[]): Promise<BatchOutcome>;
  close(): Promise<void>;
}

/** Distinct LIMIT values that get a statement of their own; any further one is bound as a parameter. */
const MAX_LIMITS = 16;

/**
 * One read statement per LIMIT value, the value written into its text. better-sqlite3 builds
 * SQLite with STAT4, and SQLite then prepares a statement again every time a LIMIT parameter is
 * bound (the value may change the plan): that was a quarter of a 10-event stream read, 9 of 36 µs.
 * Callers use a few limits (a page of a stream, a batch of the log); none means no LIMIT.
 */
class StatementsByLimit {
  private readonly byLimit = new Map<number, Database.Statement<unknown[], EventRow>>();
  private bound: Database.Statement<unknown[], EventRow> | null = null;

  /** `sql` ends where its LIMIT would go. */
  constructor(
    private readonly db: Database.Database,
    private readonly sql: string,
  ) {}

  all(limit: number | undefined, ...params: unknown[]): EventRow[] {
    const key = limit === undefined || limit < 0 ? -1 : limit;
    let statement = this.byLimit.get(key);
    if (!statement) {
      if (!Number.isSafeInteger(key) || this.byLimit.size >= MAX_LIMITS) {
        this.bound ??= this.db.prepare<unknown[], EventRow>(`${this.sql} LIMIT ?`).raw();
        return this.bound.all(...params, key);
      }
      statement = this.db.prepare<unknown[], EventRow>(key < 0 ? this.sql : `${this.sql} LIMIT ${key}`).raw();
      this.byLimit.set(key, statement);
    }
    return statement.all(...params);
  }
}

/**
 * The embedded event store: one SQLite file in WAL mode with synchronous=FULL, so a commit is on
 * disk before it returns.
 *
 * Group commit: appends are queued, and every append waiting when the writer is free goes into one
 * transaction (one fsync for all of them). Each append runs inside its own savepoint, so one that
 * fails (a conflict) does not fail the others, and no promise resolves before the commit. The
 * writer is a worker thread with a connection of its own, so the event loop goes on serving
 * requests (and filling the next batch) while a commit waits for the disk; reads stay on this
 * thread's connection, which sees every commit that has returned.
 *
 * Global order: SQLite has one writer at a time and positions come from AUTOINCREMENT inside the
 * write transaction, so positions become visible in the order they were assigned and a reader can
 * never skip an event that commits late.
 */
export class SqliteEventStore implements EventStore {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private readonly writer: BatchWriter;
  private readonly listeners = new Set<(position: number) => void>();
  private queue: PendingAppend[] = [];
  private flushScheduled = false;
  private writing: Promise<void> | null = null;
  private closed = false;
  private readonly tail = new CommittedTail();

  private readonly headOf: Database.Statement<[string], { revision: number }>;
  private readonly selectStream: StatementsByLimit;
  private readonly selectAll: StatementsByLimit;
  /** More types than MAX_TYPE_RANGES: a walk along the log, filtered by type. */
  private readonly selectAllOfManyTypes: Database.Statement<[number, string, number], EventRow>;
  /** Per number of types asked for: see ofTypes. */
  private readonly selectAllOfTypes = new Map<number, Database.Statement<unknown[], EventRow>>();
  private readonly selectHead: Database.Statement<[], { position: number | null }>;

  /** `':memory:'` keeps everything, commits included, on this thread (tests only). */
  constructor(readonly file: string) {
    try {
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      this.db = openEventsDatabase(file);
      this.db.pragma(`cache_size = -${READ_CACHE_KIB}`);
      migrateSqlite(this.db, MIGRATIONS);
    } catch (error) {
      throw new StoreUnavailableError(`cannot open the event store at ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.writer = file === ':memory:' ? inThreadWriter(this.db) : new WorkerWriter(file);
    this.headOf = this.db.prepare(
      'SELECT revision FROM events WHERE stream_id = ? ORDER BY revision DESC LIMIT 1',
    );
    this.selectStream = new StatementsByLimit(
      this.db,
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision`,
    );
    this.selectAll = new StatementsByLimit(this.db, `SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position`);

    this.selectHead = this.db.prepare('SELECT MAX(position) AS position FROM events');
    // `+type` keeps SQLite off the type index: this walks the log in position order and stops at the limit.
    this.selectAllOfManyTypes = this.db
      .prepare<[number, string, number], EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? AND +type IN (SELECT value FROM json_each(?))
         ORDER BY position LIMIT ?`,
      )
      .raw();
  }

  append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the event store is closed'));
    if (events.length === 0) return Promise.reject(new Error('append needs at least one event'));
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, expected, events, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StreamRead> {
    const from = options.fromRevision ?? 0;
    const rows = this.guard(() => this.selectStream.all(options.maxCount, streamId, from));
    if (rows.length === 0 && from > 0) {
      const head = this.guard(() => this.headOf.get(streamId));
      return { events: [], revision: head ? head.revision : 'no_stream' };
    }
    const events = rows.map(toRecorded);
    return { events, revision: events.length ? events[events.length - 1].revision : 'no_stream' };
  }

  async readAll({ after, limit, eventTypes }: ReadAllOptions): Promise<RecordedEvent[]> {
    const recent = this.db.open ? this.tail.read(after, limit, eventTypes) : null;
    if (recent) return recent;
    if (!eventTypes) return this.guard(() => this.selectAll.all(limit, after)).map(toRecorded);
    const types = [...new Set(eventTypes)];
    if (types.length === 0) return [];
    if (types.length > MAX_TYPE_RANGES) {
      return this.guard(() => this.selectAllOfManyTypes.all(after, JSON.stringify(types), limit)).map(toRecorded);
    }
    return this.guard(() => this.ofTypes(types.length).all(...types.flatMap((type) => [type, after, limit]), limit)).map(toRecorded);
  }

  async headPosition(): Promise<number> {
    return this.guard(() => this.selectHead.get()?.position ?? 0);
  }

  onAppended(listener: (position: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Commits what is queued, then closes: appends already accepted are not lost. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.writing || this.queue.length > 0) {
      this.flush();
      await this.writing;
    }
    await this.writer.close();
    this.db.close();
  }

  /** Sends what is queued to the writer, unless a batch is being written: it goes when that one is done. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.writing || this.queue.length === 0) return;
    this.writing = this.writeBatch(this.queue.splice(0, MAX_BATCH));
  }

  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    let outcome: BatchOutcome;
    try {
      outcome = await this.writer.write(batch.map(toRequest));
    } catch (error) {
      outcome = { committed: false, message: (error as Error).message };
    }
    // The writer is free: it gets what queued meanwhile before this batch is settled, so that it
    // commits the next batch while this thread answers this one's requests and brings the read
    // models up to them (3 ms per batch on a busy loop, when the writer used to sit idle).
    this.writing = null;
    this.flush();
    if (!outcome.committed) {
      const failure = new StoreUnavailableError(`the event store could not commit: ${outcome.message}`);
      for (const pending of batch) pending.reject(failure);
      return;
    }
    let last = 0;
    const committed: RecordedEvent[] = [];
    batch.forEach((pending, i) => {
      const result = outcome.outcomes[i];
      if (result.ok) {
        const events = pending.events.map((event, k) => ({
          ...event,
          streamId: pending.streamId,
          revision: result.revision - pending.events.length + 1 + k,
          position: result.positions[k],
        }));
        const position = result.positions[result.positions.length - 1];
        last = Math.max(last, position);
        for (const event of events) committed.push(event);
        pending.resolve({ revision: result.revision, position, events });
      } else if ('conflict' in result) {
        pending.reject(new WrongExpectedRevisionError(pending.streamId, result.conflict.expected, result.conflict.actual));
      } else {
        pending.reject(new Error(`append to ${pending.streamId} failed: ${result.message}`));
      }
    });
    this.tail.remember(committed);
    if (last > 0) for (const listener of this.listeners) listener(last);
  }

  /**
   * The events of some types after a position: one range scan of the (type, position) index per
   * type, each stopping at the limit, merged. (One `type IN (...)` query would sort every matching
   * event after the position before taking the first few: a subscriber reading a long log by
   * type would cost the square of its length.)
   */
  private ofTypes(count: number): Database.Statement<unknown[], EventRow> {
    let statement = this.selectAllOfTypes.get(count);
    if (!statement) {
      const branch = `SELECT * FROM (SELECT ${EVENT_COLUMNS} FROM events WHERE type = ? AND position > ? ORDER BY position LIMIT ?)`;
      statement = this.db
        .prepare<unknown[], EventRow>(
          `SELECT * FROM (${Array.from({ length: count }, () => branch).join(' UNION ALL ')}) ORDER BY position LIMIT ?`,
        )
        .raw();
      this.selectAllOfTypes.set(count, statement);
    }
    return statement;
  }

  private guard<T>(read: () => T): T {
    if (this.closed && !this.db.open) throw new StoreUnavailableError('the event store is closed');
    try {
      return read();
    } catch (error) {
      throw new StoreUnavailableError(`the event store could not be read: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

function toRequest({ streamId, expected, events }: PendingAppend): AppendRequest {
  return {
    streamId,
    expected,
    events: events.map((e) => ({
      eventId: e.eventId,
      type: e.type,
      data: e.data,
      metadata: e.metadata,
      createdAt: e.createdAt.getTime(),
    })),
  };
}

function inThreadWriter(db: Database.Database): BatchWriter {
  const writer = new SqliteAppendWriter(db);
  return { write: async (batch) => writer.write(batch), close: async () => undefined };
}

/**
 * The writer thread, one batch at a time. It holds the process open only while a batch is in
 * flight, as a synchronous write would.
 */
class WorkerWriter implements BatchWriter {
  private readonly worker: Worker;
  private readonly opened: Promise<void>;
  private readonly waiting = new Map<number, (outcome: BatchOutcome) => void>();
  private nextId = 1;
  private failure: string | null = null;

  constructor(file: string) {
    this.worker = new Worker(join(__dirname, 'sqlite-append.worker.js'), {
      workerData: { file },
      // The writer holds a batch at a time: its own heap limits, not the service's (the heap flags
      // the service runs with are process-wide and would give the thread a young generation of
      // the main thread's size).
      resourceLimits: { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 64 },
    });
    this.worker.unref();
    this.opened = new Promise((ready) => {
      this.worker.on('message', (reply: WriterReply) => {
        if ('opened' in reply) return ready();
        if ('openFailed' in reply) {
          this.fail(`the writer could not open ${file}: ${reply.openFailed}`);
          return ready();
        }
        this.settle(reply.id, reply.outcome);
      });
      this.worker.on('error', (error) => (this.fail(`the writer thread failed: ${error.message}`), ready()));
      this.worker.on('exit', () => (this.fail('the writer thread has stopped'), ready()));
    });
  }

  async write(batch: AppendRequest[]): Promise<BatchOutcome> {
    await this.opened;
    if (this.failure) return { committed: false, message: this.failure };
    const id = this.nextId++;
    return new Promise((done) => {
      this.waiting.set(id, done);
      this.worker.ref();
      this.worker.postMessage({ id, batch } satisfies WriterMessage);
    });
  }

  async close(): Promise<void> {
    await this.opened;
    if (this.failure) return;
    const exited = new Promise<void>((done) => this.worker.once('exit', () => done()));
    // Held open until the thread has closed its connection (and checkpointed the WAL).
    this.worker.ref();
    this.worker.postMessage({ close: true } satisfies WriterMessage);
    await exited;
  }

  private settle(id: number, outcome: BatchOutcome): void {
    const done = this.waiting.get(id);
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
    done?.(outcome);
  }

  /**
   * A batch in flight when the thread dies may or may not have committed: its appends fail as
   * unavailable, which tells the caller no more than that the outcome is unknown.
   */
  private fail(message: string): void {
    this.failure ??= message;
    for (const id of [...this.waiting.keys()]) this.settle(id, { committed: false, message });
  }
}

function toRecorded([position, streamId, revision, eventId, type, data, metadata, createdAt]: EventRow): RecordedEvent {
  return {
    eventId,
    streamId,
    revision,
    position,
    type,
    data: data === null ? null : (JSON.parse(data) as Record<string, unknown>),
    metadata: JSON.parse(metadata) as RecordedEvent['metadata'],
    createdAt: new Date(createdAt),
  };
}
