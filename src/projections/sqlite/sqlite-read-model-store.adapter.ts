import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { RecordedEvent, StoreUnavailableError } from '../../event-store/event-store.port';
import { migrateSqlite } from '../../event-store/sqlite/sqlite-event-store.adapter';
import { Checkpoint, DocumentProjection, ReadModelStore, tableOf } from '../read-model-store.port';

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE projection_checkpoints (
     view          TEXT    PRIMARY KEY,
     position      INTEGER NOT NULL,
     last_event_at INTEGER,
     updated_at    INTEGER
   );`,
];

interface CheckpointRow {
  position: number;
  last_event_at: number | null;
  updated_at: number | null;
}

/**
 * Read models in their own SQLite file. They can always be rebuilt from the events, so commits use
 * synchronous=NORMAL; the checkpoint is written in the same transaction as the rows, so a crash
 * leaves both at the same event.
 */
export class SqliteReadModelStore implements ReadModelStore {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private readonly selectCheckpoint: Database.Statement<[string], CheckpointRow>;
  private readonly updateCheckpoint: Database.Statement;

  constructor(
    file: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    try {
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      migrateSqlite(this.db, MIGRATIONS);
    } catch (error) {
      throw new StoreUnavailableError(`cannot open the read model store at ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.selectCheckpoint = this.db.prepare(
      'SELECT position, last_event_at, updated_at FROM projection_checkpoints WHERE view = ?',
    );
    this.updateCheckpoint = this.db.prepare(
      `UPDATE projection_checkpoints SET position = ?, last_event_at = COALESCE(?, last_event_at), updated_at = ?
       WHERE view = ?`,
    );
  }

  async prepare(projection: DocumentProjection): Promise<void> {
    const table = tableOf(projection);
    this.db.exec(`CREATE TABLE IF NOT EXISTS "${table}" (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`);
    this.db.prepare('INSERT OR IGNORE INTO projection_checkpoints (view, position) VALUES (?, 0)').run(table);
  }

  async checkpoint(projection: DocumentProjection): Promise<Checkpoint> {
    const row = this.selectCheckpoint.get(tableOf(projection));
    return {
      position: row?.position ?? 0,
      lastEventAt: row?.last_event_at != null ? new Date(row.last_event_at) : null,
      updatedAt: row?.updated_at != null ? new Date(row.updated_at) : null,
    };
  }

  async apply(projection: DocumentProjection, events: readonly RecordedEvent[], upTo: number): Promise<number> {
    const table = tableOf(projection);
    const select = this.db.prepare<[string], { doc: string }>(`SELECT doc FROM "${table}" WHERE id = ?`);
    const upsert = this.db.prepare(
      `INSERT INTO "${table}" (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
    );
    const remove = this.db.prepare(`DELETE FROM "${table}" WHERE id = ?`);
    return this.db.transaction(() => {
      const stored = this.selectCheckpoint.get(table)?.position ?? 0;
      // Documents touched by this batch, written once at the end of it.
      const touched = new Map<string, unknown>();
      let lastEventAt: number | null = null;
      for (const event of events) {
        if (event.position <= stored) continue;
        const id = projection.documentId(event);
        if (id === null) continue;
        const before = touched.has(id) ? touched.get(id)! : parse(select.get(id)?.doc);
        touched.set(id, projection.evolve(before as never, event));
        lastEventAt = event.createdAt.getTime();
      }
      for (const [id, doc] of touched) {
        if (doc === null) remove.run(id);
        else upsert.run(id, JSON.stringify(doc));
      }
      const position = Math.max(stored, upTo);
      this.updateCheckpoint.run(position, lastEventAt, this.now().getTime(), table);
      return position;
    })();
  }

  async get<D>(projection: DocumentProjection<D>, id: string): Promise<D | null> {
    const row = this.db.prepare<[string], { doc: string }>(`SELECT doc FROM "${tableOf(projection)}" WHERE id = ?`).get(id);
    return parse(row?.doc) as D | null;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function parse(doc: string | undefined): unknown {
  return doc === undefined ? null : JSON.parse(doc);
}
