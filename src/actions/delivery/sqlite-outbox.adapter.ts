import Database from 'better-sqlite3';
import { closeSync, openSync } from 'node:fs';
import { Delivery, DeliveryPage, DeliverySearch, DeliveryState, NewDelivery, OutboxStore, RedeliverOutcome } from './outbox.port';

interface Row {
  id: number;
  target_id: string;
  aggregate_id: string;
  event_type: string;
  sequence: number;
  position: number;
  body: string;
  state: DeliveryState;
  attempts: number;
  last_error: string | null;
  next_attempt_at: number;
  created_at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS actions_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  target_id TEXT NOT NULL,
  aggregate_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  position INTEGER NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER,
  UNIQUE (target_id, position)
);
CREATE INDEX IF NOT EXISTS actions_deliveries_line ON actions_deliveries (target_id, state, aggregate_id, id);
CREATE TABLE IF NOT EXISTS actions_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL, config TEXT);
`;

export const toDelivery = (row: Row): Delivery => ({
  id: Number(row.id),
  targetId: row.target_id,
  aggregateId: row.aggregate_id,
  eventType: row.event_type,
  sequence: Number(row.sequence),
  position: Number(row.position),
  body: row.body,
  state: row.state,
  attempts: Number(row.attempts),
  lastError: row.last_error,
  nextAttemptAt: new Date(Number(row.next_attempt_at)),
  createdAt: new Date(Number(row.created_at)),
});

/**
 * The outbox in a SQLite file of its own beside the events, so that sending never takes the
 * events' write lock. The lease is a second file that the leader holds an exclusive lock on for
 * as long as it lives: the operating system lets go of it when the process dies, kill -9 included.
 */
export class SqliteOutboxStore implements OutboxStore {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private lease: Database.Database | null = null;

  constructor(
    file: string,
    private readonly leaseFile: string,
  ) {
    // Signing keys and event bodies (emails) are in it: only the service's user may read it.
    // SQLite gives its -wal and -shm files the same mode.
    closeSync(openSync(file, 'a', 0o600));
    closeSync(openSync(leaseFile, 'a', 0o600));
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
  }

  async prepare(): Promise<void> {
    this.db.exec(SCHEMA);
    // Outboxes made before deliveries kept their time of delivery.
    const columns = this.db.prepare('PRAGMA table_info(actions_deliveries)').all() as Array<{ name: string }>;
    if (!columns.some((column) => column.name === 'delivered_at')) this.db.exec('ALTER TABLE actions_deliveries ADD COLUMN delivered_at INTEGER');
  }

  async checkpoint(): Promise<{ position: number; config: string | null }> {
    const row = this.db.prepare('SELECT position, config FROM actions_checkpoint WHERE id = 1').get() as
      | { position: number; config: string | null }
      | undefined;
    return { position: Number(row?.position ?? 0), config: row?.config ?? null };
  }

  private statements: { insert: Database.Statement; park: Database.Statement; save: Database.Statement } | null = null;

  async commit(deliveries: readonly NewDelivery[], removedTargets: readonly string[], position: number, config: string, now: Date): Promise<void> {
    const { insert, park, save } = (this.statements ??= {
      insert: this.db.prepare(
        `INSERT INTO actions_deliveries (target_id, aggregate_id, event_type, sequence, position, body, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (target_id, position) DO NOTHING`,
      ),
      park: this.db.prepare(
        `UPDATE actions_deliveries SET state = 'parked', last_error = 'the target was deleted' WHERE target_id = ? AND state = 'pending'`,
      ),
      save: this.db.prepare(
        `INSERT INTO actions_checkpoint (id, position, config) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET position = MAX(position, excluded.position), config = excluded.config`,
      ),
    });
    const at = now.getTime();
    this.db.transaction(() => {
      for (const d of deliveries) insert.run(d.targetId, d.aggregateId, d.eventType, d.sequence, d.position, d.body, at, at);
      for (const targetId of removedTargets) park.run(targetId);
      save.run(position, config);
    })();
  }

  async due(targetId: string, now: Date, limit: number): Promise<Delivery[]> {
    const rows = this.db
      .prepare(
        `SELECT * FROM actions_deliveries d
         WHERE d.target_id = ? AND d.state = 'pending' AND d.next_attempt_at <= ?
           AND NOT EXISTS (SELECT 1 FROM actions_deliveries e
                           WHERE e.target_id = d.target_id AND e.state = 'pending' AND e.aggregate_id = d.aggregate_id AND e.id < d.id)
         ORDER BY d.id LIMIT ?`,
      )
      .all(targetId, now.getTime(), limit) as Row[];
    return rows.map(toDelivery);
  }

  async delivered(id: number, attempts: number, at: Date): Promise<void> {
    this.db.prepare(`UPDATE actions_deliveries SET state = 'delivered', attempts = ?, delivered_at = ? WHERE id = ?`).run(attempts, at.getTime(), id);
  }

  async failed(id: number, attempts: number, error: string, nextAttemptAt: Date | null): Promise<void> {
    this.db
      .prepare(`UPDATE actions_deliveries SET state = ?, attempts = ?, last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?`)
      .run(nextAttemptAt ? 'pending' : 'parked', attempts, error, nextAttemptAt?.getTime() ?? null, id);
  }

  async search({ targetId, state, offset, limit, ascending }: DeliverySearch): Promise<DeliveryPage> {
    const where = '(? IS NULL OR target_id = ?) AND (? IS NULL OR state = ?)';
    const filter = [targetId ?? null, targetId ?? null, state ?? null, state ?? null];
    // One read transaction, so that the page and the count see the same rows.
    return this.db.transaction(() => {
      const rows = this.db
        .prepare(`SELECT * FROM actions_deliveries WHERE ${where} ORDER BY id ${ascending ? 'ASC' : 'DESC'} LIMIT ? OFFSET ?`)
        .all(...filter, limit, offset) as Row[];
      const { total } = this.db.prepare(`SELECT COUNT(*) AS total FROM actions_deliveries WHERE ${where}`).get(...filter) as { total: number };
      return { total, deliveries: rows.map(toDelivery) };
    })();
  }

  async pruneDelivered(deliveredBefore: Date, limit: number): Promise<number> {
    return this.db
      .prepare(
        `DELETE FROM actions_deliveries WHERE id IN
           (SELECT id FROM actions_deliveries WHERE state = 'delivered' AND COALESCE(delivered_at, created_at) < ? ORDER BY id LIMIT ?)`,
      )
      .run(deliveredBefore.getTime(), limit).changes;
  }

  async redeliver(id: number, now: Date, targetExists: (targetId: string) => boolean): Promise<RedeliverOutcome> {
    const row = this.db.prepare('SELECT target_id FROM actions_deliveries WHERE id = ?').get(id) as { target_id: string } | undefined;
    if (!row) return 'not_found';
    if (!targetExists(row.target_id)) return 'target_deleted';
    const changed = this.db
      .prepare(`UPDATE actions_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ? AND state = 'parked'`)
      .run(now.getTime(), id).changes;
    return changed === 1 ? 'redelivered' : 'not_parked';
  }

  async oldestPending(): Promise<Map<string, Date>> {
    const rows = this.db
      .prepare(`SELECT target_id, MIN(created_at) AS oldest FROM actions_deliveries WHERE state = 'pending' GROUP BY target_id`)
      .all() as { target_id: string; oldest: number }[];
    return new Map(rows.map((row) => [row.target_id, new Date(Number(row.oldest))]));
  }

  async tryLease(): Promise<boolean> {
    if (this.lease) return true;
    const lease = new Database(this.leaseFile);
    try {
      lease.pragma('busy_timeout = 0');
      lease.pragma('locking_mode = EXCLUSIVE');
      lease.exec('BEGIN EXCLUSIVE');
      this.lease = lease;
      return true;
    } catch (error) {
      lease.close();
      if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY')) return false;
      throw error;
    }
  }

  async holdsLease(): Promise<boolean> {
    return this.lease !== null;
  }

  async close(): Promise<void> {
    if (this.lease?.inTransaction) this.lease.exec('ROLLBACK');
    this.lease?.close();
    this.lease = null;
    this.db.close();
  }
}
