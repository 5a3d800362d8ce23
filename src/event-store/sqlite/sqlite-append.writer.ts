import Database from 'better-sqlite3';
import type { ExpectedRevision } from '../event-store.port';

/** One append as it crosses to the writer: plain data, so it can be posted to a worker thread. */
export interface AppendRequest {
  streamId: string;
  expected: ExpectedRevision;
  events: ReadonlyArray<{
    eventId: string;
    type: string;
    data: Record<string, unknown> | null;
    metadata: object;
    createdAt: number;
  }>;
}

/** What became of one append of a committed batch. */
export type AppendOutcome =
  | { ok: true; revision: number; positions: number[] }
  | { ok: false; conflict: { expected: ExpectedRevision; actual: number | 'no_stream' } }
  | { ok: false; message: string };

/** What became of a batch: the outcome of each append, or why none of them was written. */
export type BatchOutcome = { committed: true; outcomes: AppendOutcome[] } | { committed: false; message: string };

/**
 * Writes batches of appends into the events table: all of a batch in one transaction (one fsync),
 * each append in a savepoint of its own so that one that fails leaves the others in. Nothing of
 * a batch is reported before its COMMIT has returned, which with synchronous=FULL means on disk.
 */
export class SqliteAppendWriter {
  private readonly headOf: Database.Statement<[string], { revision: number }>;
  private readonly insert: Database.Statement;
  // Prepared once: parsing these on every append showed up in profiles.
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackTo: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.headOf = db.prepare('SELECT revision FROM events WHERE stream_id = ? ORDER BY revision DESC LIMIT 1');
    this.insert = db.prepare(
      `INSERT INTO events (stream_id, revision, event_id, type, data, metadata, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT append');
    this.release = db.prepare('RELEASE append');
    this.rollbackTo = db.prepare('ROLLBACK TO append');
  }

  write(batch: readonly AppendRequest[]): BatchOutcome {
    const outcomes: AppendOutcome[] = [];
    try {
      this.begin.run();
      for (const append of batch) {
        this.savepoint.run();
        try {
          outcomes.push(this.appendOne(append));
          this.release.run();
        } catch (error) {
          this.rollbackTo.run();
          this.release.run();
          outcomes.push({ ok: false, message: (error as Error).message });
        }
      }
      this.commit.run();
      return { committed: true, outcomes };
    } catch (error) {
      if (this.db.inTransaction) this.rollback.run();
      return { committed: false, message: (error as Error).message };
    }
  }

  private appendOne({ streamId, expected, events }: AppendRequest): AppendOutcome {
    const head = this.headOf.get(streamId);
    const actual = head ? head.revision : 'no_stream';
    // A conflict is found before anything is written, so it needs no rollback.
    if (expected !== 'any' && expected !== actual) return { ok: false, conflict: { expected, actual } };
    let revision = head ? head.revision : -1;
    const positions: number[] = [];
    for (const event of events) {
      revision += 1;
      const info = this.insert.run(
        streamId,
        revision,
        event.eventId,
        event.type,
        event.data === null ? null : JSON.stringify(event.data),
        JSON.stringify(event.metadata),
        event.createdAt,
      );
      positions.push(Number(info.lastInsertRowid));
    }
    return { ok: true, revision, positions };
  }
}

/** How both ends of the events file are opened: WAL, and a commit is on disk before it returns. */
export function openEventsDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  return db;
}
