import { Client, Pool } from 'pg';
import { LOCK_NAMESPACE, connectionConfig, createPool, inTransaction } from '../../event-store/postgres/postgres-connection';
import { Delivery, DeliveryPage, DeliverySearch, NewDelivery, OutboxStore, RedeliverOutcome } from './outbox.port';
import { toDelivery } from './sqlite-outbox.adapter';

/** Second keys of the advisory locks of deliveries, beside the event store's (1 to 3). */
const LEASE_LOCK = 101;
const TABLES_LOCK = 102;
/** Rows per INSERT: well below PostgreSQL's 65535 parameters. */
const INSERT_CHUNK = 500;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS actions_deliveries (
  id BIGSERIAL PRIMARY KEY,
  target_id TEXT NOT NULL,
  aggregate_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  position BIGINT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  next_attempt_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  delivered_at BIGINT,
  UNIQUE (target_id, position)
);
-- Outboxes made before deliveries kept their time of delivery.
ALTER TABLE actions_deliveries ADD COLUMN IF NOT EXISTS delivered_at BIGINT;
CREATE INDEX IF NOT EXISTS actions_deliveries_line ON actions_deliveries (target_id, state, aggregate_id, id);
CREATE TABLE IF NOT EXISTS actions_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), position BIGINT NOT NULL, config TEXT);
`;

/**
 * The outbox in the PostgreSQL database of the service. The lease is a session advisory lock on a
 * connection of its own: PostgreSQL lets go of it when that connection ends, whatever ended it.
 */
export class PostgresOutboxStore implements OutboxStore {
  readonly backend = 'postgres';
  private readonly pool: Pool;
  private lease: Client | null = null;
  private leaseBroken = false;

  constructor(private readonly url: string) {
    this.pool = createPool(url, 'ActionsOutbox', { poolSize: 3 });
  }

  async prepare(): Promise<void> {
    await inTransaction(this.pool, 'creating the Actions outbox', async (client) => {
      // Instances starting together would race on CREATE TABLE IF NOT EXISTS.
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, TABLES_LOCK]);
      await client.query(SCHEMA);
    });
  }

  async checkpoint(): Promise<{ position: number; config: string | null }> {
    const { rows } = await this.pool.query('SELECT position, config FROM actions_checkpoint WHERE id = 1');
    return { position: Number(rows[0]?.position ?? 0), config: rows[0]?.config ?? null };
  }

  async commit(deliveries: readonly NewDelivery[], removedTargets: readonly string[], position: number, config: string, now: Date): Promise<void> {
    await inTransaction(this.pool, 'writing Actions deliveries', async (client) => {
      const at = now.getTime();
      for (let from = 0; from < deliveries.length; from += INSERT_CHUNK) {
        const chunk = deliveries.slice(from, from + INSERT_CHUNK);
        const values: unknown[] = [];
        const rows = chunk.map((d, i) => {
          values.push(d.targetId, d.aggregateId, d.eventType, d.sequence, d.position, d.body);
          return `($${i * 6 + 1}, $${i * 6 + 2}, $${i * 6 + 3}, $${i * 6 + 4}, $${i * 6 + 5}, $${i * 6 + 6}, ${at}, ${at})`;
        });
        await client.query(
          `INSERT INTO actions_deliveries (target_id, aggregate_id, event_type, sequence, position, body, next_attempt_at, created_at)
           VALUES ${rows.join(', ')} ON CONFLICT (target_id, position) DO NOTHING`,
          values,
        );
      }
      if (removedTargets.length) {
        await client.query(
          `UPDATE actions_deliveries SET state = 'parked', last_error = 'the target was deleted' WHERE target_id = ANY($1) AND state = 'pending'`,
          [removedTargets],
        );
      }
      await client.query(
        `INSERT INTO actions_checkpoint (id, position, config) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET position = GREATEST(actions_checkpoint.position, excluded.position), config = excluded.config`,
        [position, config],
      );
    });
  }

  async due(targetId: string, now: Date, limit: number): Promise<Delivery[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM actions_deliveries d
       WHERE d.target_id = $1 AND d.state = 'pending' AND d.next_attempt_at <= $2
         AND NOT EXISTS (SELECT 1 FROM actions_deliveries e
                         WHERE e.target_id = d.target_id AND e.state = 'pending' AND e.aggregate_id = d.aggregate_id AND e.id < d.id)
       ORDER BY d.id LIMIT $3`,
      [targetId, now.getTime(), limit],
    );
    return rows.map(toDelivery);
  }

  async delivered(id: number, attempts: number, at: Date): Promise<void> {
    await this.pool.query(`UPDATE actions_deliveries SET state = 'delivered', attempts = $1, delivered_at = $2 WHERE id = $3`, [attempts, at.getTime(), id]);
  }

  async failed(id: number, attempts: number, error: string, nextAttemptAt: Date | null): Promise<void> {
    await this.pool.query(
      `UPDATE actions_deliveries SET state = $1, attempts = $2, last_error = $3, next_attempt_at = COALESCE($4, next_attempt_at) WHERE id = $5`,
      [nextAttemptAt ? 'pending' : 'parked', attempts, error, nextAttemptAt?.getTime() ?? null, id],
    );
  }

  async search({ targetId, state, offset, limit, ascending }: DeliverySearch): Promise<DeliveryPage> {
    // One statement, so that the page and the count see the same rows.
    const { rows } = await this.pool.query(
      `WITH matching AS (
         SELECT * FROM actions_deliveries WHERE ($1::text IS NULL OR target_id = $1) AND ($2::text IS NULL OR state = $2)
       )
       SELECT (SELECT COUNT(*) FROM matching) AS total, page.*
       FROM (SELECT 1) AS one
       LEFT JOIN (SELECT * FROM matching ORDER BY id ${ascending ? 'ASC' : 'DESC'} LIMIT $3 OFFSET $4) AS page ON true`,
      [targetId ?? null, state ?? null, limit, offset],
    );
    return { total: Number(rows[0].total), deliveries: rows.filter((row) => row.id !== null).map(toDelivery) };
  }

  async pruneDelivered(deliveredBefore: Date, limit: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM actions_deliveries WHERE id IN
         (SELECT id FROM actions_deliveries WHERE state = 'delivered' AND COALESCE(delivered_at, created_at) < $1 ORDER BY id LIMIT $2)`,
      [deliveredBefore.getTime(), limit],
    );
    return rowCount ?? 0;
  }

  async redeliver(id: number, now: Date, targetExists: (targetId: string) => boolean): Promise<RedeliverOutcome> {
    const { rows } = await this.pool.query('SELECT target_id FROM actions_deliveries WHERE id = $1', [id]);
    if (rows.length === 0) return 'not_found';
    if (!targetExists(rows[0].target_id)) return 'target_deleted';
    const { rowCount } = await this.pool.query(
      `UPDATE actions_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1 WHERE id = $2 AND state = 'parked'`,
      [now.getTime(), id],
    );
    return rowCount === 1 ? 'redelivered' : 'not_parked';
  }

  async oldestPending(): Promise<Map<string, Date>> {
    const { rows } = await this.pool.query(
      `SELECT target_id, MIN(created_at) AS oldest FROM actions_deliveries WHERE state = 'pending' GROUP BY target_id`,
    );
    return new Map(rows.map((row: { target_id: string; oldest: string }) => [row.target_id, new Date(Number(row.oldest))]));
  }

  async tryLease(): Promise<boolean> {
    if (this.lease && !this.leaseBroken) return true;
    await this.dropLease();
    const client = new Client({ ...connectionConfig(this.url, { poolSize: 1 }), application_name: 'mfa-service actions lease' });
    client.on('error', () => (this.leaseBroken = true));
    client.on('end', () => (this.leaseBroken = true));
    try {
      await client.connect();
      const { rows } = await client.query('SELECT pg_try_advisory_lock($1, $2) AS held', [LOCK_NAMESPACE, LEASE_LOCK]);
      if (rows[0]?.held === true) {
        this.lease = client;
        this.leaseBroken = false;
        return true;
      }
    } catch {
      // Unreachable: not the leader, try again later.
    }
    await client.end().catch(() => undefined);
    return false;
  }

  async holdsLease(): Promise<boolean> {
    if (!this.lease || this.leaseBroken) return false;
    try {
      await this.lease.query('SELECT 1');
      return true;
    } catch {
      this.leaseBroken = true;
      return false;
    }
  }

  private async dropLease(): Promise<void> {
    const lease = this.lease;
    this.lease = null;
    await lease?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.dropLease();
    await this.pool.end();
  }
}
