import { Pool } from 'pg';
import { LOCK_NAMESPACE, Locks, inTransaction } from './postgres-connection';

export interface Migration {
  /** Versions count from 1 within a component and are never renumbered. */
  version: number;
  description: string;
  sql: string;
}

/**
 * Brings one component's tables (the event store, the read models) to its latest version.
 *
 * Each migration runs in its own transaction together with its row in schema_migrations, so a
 * failure leaves the schema at the previous version. All of it happens under a transaction-level
 * advisory lock: several instances starting at once take turns, and each one that comes after
 * finds the migrations done. The schema_migrations table itself is created under the same lock,
 * because two concurrent CREATE TABLE IF NOT EXISTS can still collide.
 */
export async function migrate(pool: Pool, component: string, migrations: readonly Migration[]): Promise<number> {
  migrations.forEach((migration, i) => {
    if (migration.version !== i + 1) throw new Error(`${component} migration ${i} must have version ${i + 1}`);
  });
  const lock = `SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${Locks.migrations})`;
  return inTransaction(pool, `migrating the ${component} schema`, async (client) => {
    await client.query(lock);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        component  text        NOT NULL,
        version    integer     NOT NULL,
        description text       NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (component, version)
      )`);
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM schema_migrations WHERE component = $1',
      [component],
    );
    const current = rows[0].version ?? 0;
    if (current > migrations.length) {
      throw new Error(
        `the ${component} schema is at version ${current}, newer than this build knows (${migrations.length}); ` +
          'run a newer mfa-service or restore a matching database',
      );
    }
    return current;
  }).then(async (current) => {
    for (const migration of migrations.slice(current)) {
      await inTransaction(pool, `migrating the ${component} schema`, async (client) => {
        await client.query(lock);
        const { rowCount } = await client.query(
          'SELECT 1 FROM schema_migrations WHERE component = $1 AND version = $2',
          [component, migration.version],
        );
        if (rowCount) return; // another instance applied it while we waited for the lock
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (component, version, description) VALUES ($1, $2, $3)', [
          component,
          migration.version,
          migration.description,
        ]);
      });
    }
    return migrations.length;
  });
}
