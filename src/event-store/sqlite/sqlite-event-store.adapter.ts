import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  AppendResult,
  EventStore,
  ExpectedRevision,
  NewEvent,
  ReadAllOptions,
  RecordedEvent,
  StoreUnavailableError,
  StreamRead,
  WrongExpectedRevisionError,
} from '../event-store.port';

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

interface EventRow {
  position: number;
  stream_id: string;
  revision: number;
  event_id: string;
  type: string;
  data: string | null;
  metadata: string;
  created_at: number;
}

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

/**
 * The embedded event store: one SQLite file in WAL mode with synchronous=FULL, so a commit is on
 * disk before it returns.
 *
 * Group commit: every append that arrives within one turn of the event loop goes into one
 * transaction (one fsync for all of them). Each append runs inside its own savepoint, so one that
 * fails (a conflict) does not fail the others, and no promise resolves before the commit.
 *
 * Global order: SQLite has one writer at a time and positions come from AUTOINCREMENT inside the
 * write transaction, so positions become visible in the order they were assigned and a reader can
 * never skip an event that commits late.
 */
export class SqliteEventStore implements EventStore {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private readonly listeners = new Set<(position: number) => void>();
  private queue: PendingAppend[] = [];
  private flushScheduled = false;
  private closed = false;

  private readonly headOf: Database.Statement<[string], { revision: number }>;
  private readonly insert: Database.Statement;
  private readonly selectStream: Database.Statement<[string], EventRow>;
  private readonly selectAll: Database.Statement<[number, number], EventRow>;
  private readonly selectAllOfTypes: Database.Statement<[number, string, number], EventRow>;
  private readonly selectHead: Database.Statement<[], { position: number | null }>;

  constructor(readonly file: string) {
    try {
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 5000');
      migrateSqlite(this.db, MIGRATIONS);
    } catch (error) {
      throw new StoreUnavailableError(`cannot open the event store at ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.headOf = this.db.prepare(
      'SELECT revision FROM events WHERE stream_id = ? ORDER BY revision DESC LIMIT 1',
    );
    this.insert = this.db.prepare(
      `INSERT INTO events (stream_id, revision, event_id, type, data, metadata, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.selectStream = this.db.prepare('SELECT * FROM events WHERE stream_id = ? ORDER BY revision');
    this.selectAll = this.db.prepare('SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?');
    this.selectAllOfTypes = this.db.prepare(
      `SELECT * FROM events WHERE position > ? AND type IN (SELECT value FROM json_each(?))
       ORDER BY position LIMIT ?`,
    );
    this.selectHead = this.db.prepare('SELECT MAX(position) AS position FROM events');
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

  async readStream(streamId: string): Promise<StreamRead> {
    const rows = this.guard(() => this.selectStream.all(streamId));
    const events = rows.map(toRecorded);
    return { events, revision: events.length ? events[events.length - 1].revision : 'no_stream' };
  }

  async readAll({ after, limit, eventTypes }: ReadAllOptions): Promise<RecordedEvent[]> {
    const rows = this.guard(() =>
      eventTypes
        ? this.selectAllOfTypes.all(after, JSON.stringify(eventTypes), limit)
        : this.selectAll.all(after, limit),
    );
    return rows.map(toRecorded);
  }

  async headPosition(): Promise<number> {
    return this.guard(() => this.selectHead.get()?.position ?? 0);
  }

  onAppended(listener: (position: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const outcomes: Array<{ result?: AppendResult; error?: unknown }> = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (const pending of batch) {
        this.db.exec('SAVEPOINT append');
        try {
          outcomes.push({ result: this.appendInTransaction(pending) });
          this.db.exec('RELEASE append');
        } catch (error) {
          this.db.exec('ROLLBACK TO append');
          this.db.exec('RELEASE append');
          outcomes.push({ error });
        }
      }
      this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      const failure = new StoreUnavailableError(`the event store could not commit: ${(error as Error).message}`, {
        cause: error,
      });
      for (const pending of batch) pending.reject(failure);
      return;
    }
    let last = 0;
    batch.forEach((pending, i) => {
      const { result, error } = outcomes[i];
      if (result) {
        last = Math.max(last, result.position);
        pending.resolve(result);
      } else {
        pending.reject(error);
      }
    });
    if (last > 0) for (const listener of this.listeners) listener(last);
  }

  private appendInTransaction({ streamId, expected, events }: PendingAppend): AppendResult {
    const head = this.headOf.get(streamId);
    const actual = head ? head.revision : 'no_stream';
    if (expected !== 'any' && expected !== actual) {
      throw new WrongExpectedRevisionError(streamId, expected, actual);
    }
    let revision = head ? head.revision : -1;
    const recorded: RecordedEvent[] = [];
    for (const event of events) {
      revision += 1;
      const info = this.insert.run(
        streamId,
        revision,
        event.eventId,
        event.type,
        event.data === null ? null : JSON.stringify(event.data),
        JSON.stringify(event.metadata),
        event.createdAt.getTime(),
      );
      recorded.push({ ...event, streamId, revision, position: Number(info.lastInsertRowid) });
    }
    const last = recorded[recorded.length - 1];
    return { revision: last.revision, position: last.position, events: recorded };
  }

  private guard<T>(read: () => T): T {
    if (this.closed) throw new StoreUnavailableError('the event store is closed');
    try {
      return read();
    } catch (error) {
      throw new StoreUnavailableError(`the event store could not be read: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id,
    streamId: row.stream_id,
    revision: row.revision,
    position: row.position,
    type: row.type,
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
    metadata: JSON.parse(row.metadata) as RecordedEvent['metadata'],
    createdAt: new Date(row.created_at),
  };
}
