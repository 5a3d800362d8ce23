import { Pool, PoolClient } from 'pg';
import { RecordedEvent, StoreUnavailableError } from '../../event-store/event-store.port';
import {
  LOCK_NAMESPACE,
  Locks,
  PostgresOptions,
  createPool,
  inTransaction,
  openFailure,
  query,
  quoteIdentifier,
  toStoreError,
} from '../../event-store/postgres/postgres-connection';
import { Migration, migrate } from '../../event-store/postgres/postgres-migrations';
import {
  Checkpoint,
  DocumentProjection,
  EvolveError,
  ListOptions,
  ProjectionBatch,
  ProjectionFailure,
  ReadModelStore,
  RebuildSupersededError,
  tableOf,
  viewKeyOf,
} from '../read-model-store.port';

export const READ_MODEL_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'projection checkpoints',
    sql: `CREATE TABLE projection_checkpoints (
            view          text        PRIMARY KEY,
            position      bigint      NOT NULL,
            last_event_at timestamptz,
            updated_at    timestamptz
          )`,
  },
  {
    version: 2,
    description: 'generations of views, failures and rebuilds',
    sql: `ALTER TABLE projection_checkpoints
            ADD COLUMN generation integer NOT NULL DEFAULT 0,
            ADD COLUMN failure    json;
          CREATE TABLE projection_rebuilds (
            view          text        PRIMARY KEY,
            generation    integer     NOT NULL,
            position      bigint      NOT NULL,
            last_event_at timestamptz,
            started_at    timestamptz NOT NULL,
            updated_at    timestamptz,
            failure       json
          )`,
  },
];

/** How often a read retries when the generation it read was switched and dropped under it. */
const READ_ATTEMPTS = 5;

interface CheckpointRow {
  position: string;
  last_event_at: Date | null;
  updated_at: Date | null;
  generation: number;
  failure: StoredFailure | null;
}

interface RebuildRow {
  generation: number;
  position: string;
  last_event_at: Date | null;
  started_at: Date;
  updated_at: Date | null;
  failure: StoredFailure | null;
}

type StoredFailure = Omit<ProjectionFailure, 'at'> & { at: string };

/**
 * Read models in PostgreSQL: per view generation one table of json documents, and per view one
 * checkpoint row naming the active generation, written in the same transaction as the documents.
 *
 * Several instances (and the CLI) work on the same tables. Every write locks the view's checkpoint
 * row first (SELECT ... FOR UPDATE) and reads the active generation and position under that lock,
 * so writes of one view take turns, and `apply` skips the events at or before the checkpoint it
 * finds: every event changes the documents once, whichever instance gets there first. The one that
 * waited finds the work done and answers the newer position, which is what lets its writer's
 * read-your-writes wait end. A rebuild locks its own row (projection_rebuilds) so it does not hold
 * the live view back; whatever needs both rows locks the checkpoint row first, so no two
 * transactions can wait for each other.
 *
 * Reads look up the active generation and the document in one statement (one snapshot), so they
 * never mix generations; when a switch dropped the table they asked for, they ask again.
 */
export class PostgresReadModelStore implements ReadModelStore {
  readonly backend = 'postgres';
  /** Last active generation seen per view, so a read is usually one round trip. */
  private readonly generations = new Map<string, number>();

  private constructor(
    private readonly pool: Pool,
    private readonly now: () => Date,
  ) {}

  static async open(url: string, options: PostgresOptions & { now?: () => Date } = {}): Promise<PostgresReadModelStore> {
    const pool = createPool(url, PostgresReadModelStore.name, options);
    try {
      await migrate(pool, 'read_models', READ_MODEL_MIGRATIONS);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw openFailure(toStoreError(error, 'opening'), 'read model store', url);
    }
    return new PostgresReadModelStore(pool, options.now ?? (() => new Date()));
  }

  async prepare(projection: DocumentProjection): Promise<void> {
    const view = viewKeyOf(projection);
    await inTransaction(this.pool, `preparing read model ${view}`, async (client) => {
      // Two instances creating the same table at once can collide even with IF NOT EXISTS.
      await client.query(`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${Locks.readModelTables})`);
      await client.query('INSERT INTO projection_checkpoints (view, position) VALUES ($1, 0) ON CONFLICT (view) DO NOTHING', [view]);
      const { active } = await this.lockCheckpoint(client, view);
      const building = (await this.lockRebuild(client, view))?.generation;
      const keep = [tableOf(projection, active), ...(building !== undefined ? [tableOf(projection, building)] : [])];
      for (const table of keep) await createTable(client, table);
      // Tables of generations neither active nor being built are leftovers of a replaced rebuild
      // or of a switch whose clean-up did not happen (a crash).
      for (const table of await generationTables(client, projection)) {
        if (!keep.includes(table)) await client.query(`DROP TABLE IF EXISTS ${quoteIdentifier(table)}`);
      }
    });
  }

  async checkpoint(projection: DocumentProjection): Promise<Checkpoint> {
    const [row] = await query<CheckpointRow & { [K in keyof RebuildRow as `r_${K}`]: RebuildRow[K] | null }>(
      this.pool,
      'reading a checkpoint',
      `SELECT c.position, c.last_event_at, c.updated_at, c.generation, c.failure,
              r.generation AS r_generation, r.position AS r_position, r.last_event_at AS r_last_event_at,
              r.started_at AS r_started_at, r.updated_at AS r_updated_at, r.failure AS r_failure
       FROM projection_checkpoints c LEFT JOIN projection_rebuilds r ON r.view = c.view
       WHERE c.view = $1`,
      [viewKeyOf(projection)],
    );
    if (!row) return { position: 0, lastEventAt: null, updatedAt: null, generation: 0, failure: null, rebuild: null };
    return {
      position: Number(row.position),
      lastEventAt: row.last_event_at,
      updatedAt: row.updated_at,
      generation: row.generation,
      failure: failureOf(row.failure),
      rebuild:
        row.r_generation === null
          ? null
          : {
              generation: row.r_generation,
              position: Number(row.r_position),
              lastEventAt: row.r_last_event_at,
              startedAt: row.r_started_at!,
              updatedAt: row.r_updated_at,
              failure: failureOf(row.r_failure),
            },
    };
  }

  async apply(projection: DocumentProjection, events: readonly RecordedEvent[], upTo: number): Promise<number> {
    const view = viewKeyOf(projection);
    return inTransaction(this.pool, `applying events to ${view}`, async (client) => (await this.applyToActive(client, projection, events, upTo)).position);
  }

  async applyEach(batches: readonly ProjectionBatch[]): Promise<Array<{ position: number; generation: number }>> {
    const views = batches.map(({ projection }) => viewKeyOf(projection)).join(', ');
    return inTransaction(this.pool, `applying events to ${views}`, async (client) => {
      const applied: Array<{ position: number; generation: number }> = [];
      for (const { projection, events, upTo } of batches) applied.push(await this.applyToActive(client, projection, events, upTo));
      return applied;
    });
  }

  async get<D>(projection: DocumentProjection<D>, id: string): Promise<D | null> {
    // PostgreSQL text cannot hold U+0000, so no document has such an id.
    if (id.includes('\u0000')) return null;
    const rows = await this.readActive<{ doc: D | null }>(
      projection,
      (table) => `(SELECT doc FROM ${quoteIdentifier(table)} WHERE id = $2) AS doc`,
      [id],
    );
    return rows.doc ?? null;
  }

  async list<D>(projection: DocumentProjection<D>, options: ListOptions): Promise<{ total: number; documents: D[] }> {
    const order = options.descending ? 'DESC' : 'ASC';
    const { total, documents } = await this.readActive<{ total: string; documents: D[] }>(
      projection,
      (table) => `(SELECT count(*) FROM ${quoteIdentifier(table)}) AS total,
         (SELECT coalesce(json_agg(page.doc ORDER BY page.id ${order}), '[]'::json)
          FROM (SELECT id, doc FROM ${quoteIdentifier(table)} ORDER BY id ${order} LIMIT $2 OFFSET $3) page) AS documents`,
      [options.limit, options.offset],
    );
    return { total: Number(total), documents };
  }

  async startRebuild(projection: DocumentProjection): Promise<number> {
    const view = viewKeyOf(projection);
    return inTransaction(this.pool, `starting a rebuild of ${view}`, async (client) => {
      await client.query('INSERT INTO projection_checkpoints (view, position) VALUES ($1, 0) ON CONFLICT (view) DO NOTHING', [view]);
      const { active } = await this.lockCheckpoint(client, view);
      const abandoned = (await this.lockRebuild(client, view))?.generation;
      // Numbers are never reused, so a builder of an abandoned generation can always tell.
      const generation = Math.max(active, abandoned ?? 0) + 1;
      if (abandoned !== undefined) await client.query(`DROP TABLE IF EXISTS ${quoteIdentifier(tableOf(projection, abandoned))}`);
      await createTable(client, tableOf(projection, generation));
      await client.query(
        `INSERT INTO projection_rebuilds (view, generation, position, last_event_at, started_at, updated_at, failure)
         VALUES ($1, $2, 0, NULL, $3, NULL, NULL)
         ON CONFLICT (view) DO UPDATE SET generation = excluded.generation, position = 0, last_event_at = NULL,
           started_at = excluded.started_at, updated_at = NULL, failure = NULL`,
        [view, generation, this.now()],
      );
      return generation;
    });
  }

  async applyRebuild(
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
  ): Promise<number> {
    const view = viewKeyOf(projection);
    return inTransaction(this.pool, `rebuilding ${view}`, (client) => this.applyToRebuild(client, projection, generation, events, upTo));
  }

  async finishRebuild(
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
  ): Promise<boolean> {
    const view = viewKeyOf(projection);
    const replaced = await inTransaction(this.pool, `switching ${view} to generation ${generation}`, async (client) => {
      const active = await this.lockCheckpoint(client, view);
      const position = await this.applyToRebuild(client, projection, generation, events, upTo);
      // Reads must never go back in time: a write that waited for the active generation to reach
      // its event must still see it after the switch.
      if (position < active.position) return null;
      await client.query(
        `UPDATE projection_checkpoints c
         SET generation = r.generation, position = r.position, last_event_at = r.last_event_at, updated_at = $2, failure = NULL
         FROM projection_rebuilds r WHERE c.view = $1 AND r.view = $1`,
        [view, this.now()],
      );
      await client.query('DELETE FROM projection_rebuilds WHERE view = $1', [view]);
      return active.active;
    });
    if (replaced === null) return false;
    this.generations.set(view, generation);
    // Outside the switch, so that dropping a large table does not lengthen it; a crash in between
    // leaves a table that the next prepare drops.
    await query(this.pool, `dropping ${view} generation ${replaced}`, `DROP TABLE IF EXISTS ${quoteIdentifier(tableOf(projection, replaced))}`);
    return true;
  }

  async recordFailure(projection: DocumentProjection, generation: number, failure: ProjectionFailure | null): Promise<void> {
    const view = viewKeyOf(projection);
    const stored = failure === null ? null : JSON.stringify({ ...failure, at: failure.at.toISOString() });
    await inTransaction(this.pool, `recording the state of ${view}`, async (client) => {
      await client.query('UPDATE projection_checkpoints SET failure = $3 WHERE view = $1 AND generation = $2', [view, generation, stored]);
      await client.query('UPDATE projection_rebuilds SET failure = $3 WHERE view = $1 AND generation = $2', [view, generation, stored]);
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  private async applyToActive(
    client: PoolClient,
    projection: DocumentProjection,
    events: readonly RecordedEvent[],
    upTo: number,
  ): Promise<{ position: number; generation: number }> {
    const view = viewKeyOf(projection);
    const { active, position: stored } = await this.lockCheckpoint(client, view);
    const { position, lastEventAt } = await this.applyEvents(client, projection, active, stored, events, upTo);
    if (position !== stored || lastEventAt !== null) {
      await client.query(
        `UPDATE projection_checkpoints SET position = $2, last_event_at = coalesce($3, last_event_at), updated_at = $4
         WHERE view = $1`,
        [view, position, lastEventAt, this.now()],
      );
    }
    return { position, generation: active };
  }

  /** Locks the view's checkpoint row for this transaction; the truth about the active generation. */
  private async lockCheckpoint(client: PoolClient, view: string): Promise<{ active: number; position: number }> {
    const { rows } = await client.query<{ generation: number; position: string }>(
      'SELECT generation, position FROM projection_checkpoints WHERE view = $1 FOR UPDATE',
      [view],
    );
    if (rows.length === 0) throw new Error(`read model ${view} is not prepared`);
    this.generations.set(view, rows[0].generation);
    return { active: rows[0].generation, position: Number(rows[0].position) };
  }

  private async lockRebuild(client: PoolClient, view: string): Promise<{ generation: number; position: number } | null> {
    const { rows } = await client.query<{ generation: number; position: string }>(
      'SELECT generation, position FROM projection_rebuilds WHERE view = $1 FOR UPDATE',
      [view],
    );
    return rows.length ? { generation: rows[0].generation, position: Number(rows[0].position) } : null;
  }

  private async applyToRebuild(
    client: PoolClient,
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
  ): Promise<number> {
    const view = viewKeyOf(projection);
    const rebuild = await this.lockRebuild(client, view);
    if (!rebuild || rebuild.generation !== generation) throw new RebuildSupersededError(projection.name, generation);
    const { position, lastEventAt } = await this.applyEvents(client, projection, generation, rebuild.position, events, upTo);
    if (position !== rebuild.position || lastEventAt !== null) {
      await client.query(
        `UPDATE projection_rebuilds SET position = $2, last_event_at = coalesce($3, last_event_at), updated_at = $4
         WHERE view = $1`,
        [view, position, lastEventAt, this.now()],
      );
    }
    return position;
  }

  /** Evolves the documents of one generation, inside the caller's transaction. */
  private async applyEvents(
    client: PoolClient,
    projection: DocumentProjection,
    generation: number,
    stored: number,
    events: readonly RecordedEvent[],
    upTo: number,
  ): Promise<{ position: number; lastEventAt: Date | null }> {
    const table = quoteIdentifier(tableOf(projection, generation));
    const fresh = events.filter((event) => event.position > stored);
    const last = fresh.at(-1);
    const position = Math.max(stored, upTo, last?.position ?? 0);
    const idOf = new Map<RecordedEvent, string>();
    for (const event of fresh) {
      const id = projection.documentId(event);
      if (id !== null) idOf.set(event, id);
    }
    if (idOf.size === 0) return { position, lastEventAt: last?.createdAt ?? null };

    // Documents touched by this batch: read once, evolved in memory in order, written once.
    const { rows } = await client.query<{ id: string; doc: unknown }>(`SELECT id, doc FROM ${table} WHERE id = ANY($1::text[])`, [
      [...new Set(idOf.values())],
    ]);
    const before = new Map(rows.map((row) => [row.id, row.doc]));
    const documents = new Map<string, unknown>();
    for (const [event, id] of idOf) {
      const current = documents.has(id) ? documents.get(id) : (before.get(id) ?? null);
      try {
        documents.set(id, projection.evolve(current as never, event));
      } catch (error) {
        throw new EvolveError(projection.name, event, error);
      }
    }
    const changed = [...documents].filter(([id, doc]) => doc !== (before.get(id) ?? null));
    const upserts = changed.filter(([, doc]) => doc !== null);
    const removals = changed.filter(([, doc]) => doc === null).map(([id]) => id);
    if (upserts.length) {
      await client.query(
        `INSERT INTO ${table} (id, doc) SELECT * FROM unnest($1::text[], $2::json[])
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
        [upserts.map(([id]) => id), upserts.map(([, doc]) => JSON.stringify(doc))],
      );
    }
    if (removals.length) await client.query(`DELETE FROM ${table} WHERE id = ANY($1::text[])`, [removals]);
    return { position, lastEventAt: last!.createdAt };
  }

  /**
   * One statement that reads the active generation together with what `select` asks of its table,
   * so both come from one snapshot. `select` gets the table name; its parameters start at $2.
   */
  private async readActive<R>(
    projection: DocumentProjection,
    select: (table: string) => string,
    values: unknown[],
  ): Promise<R> {
    const view = viewKeyOf(projection);
    for (let attempt = 1; ; attempt++) {
      const generation = this.generations.get(view) ?? 0;
      try {
        const [row] = await query<R & { generation: number | null }>(
          this.pool,
          `reading read model ${view}`,
          `SELECT (SELECT generation FROM projection_checkpoints WHERE view = $1) AS generation, ${select(tableOf(projection, generation))}`,
          [view, ...values],
        );
        const active = row.generation ?? 0;
        if (active === generation) return row;
        this.generations.set(view, active);
      } catch (error) {
        // The table of the generation we knew was dropped by a switch: learn the new one.
        if ((error as { code?: string }).code !== '42P01' || attempt >= READ_ATTEMPTS) throw error;
        const [row] = await query<{ generation: number }>(
          this.pool,
          `reading read model ${view}`,
          'SELECT generation FROM projection_checkpoints WHERE view = $1',
          [view],
        );
        this.generations.set(view, row?.generation ?? 0);
      }
      if (attempt >= READ_ATTEMPTS) throw new StoreUnavailableError(`read model ${view} kept switching generations; try again`);
    }
  }
}

/**
 * Ids in byte order (COLLATE "C"), as the other backends list them, with the index to match.
 * Documents are json, not jsonb, for the reason given with the events table: any string a
 * document holds must round-trip.
 */
async function createTable(client: PoolClient, table: string): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${quoteIdentifier(table)} (id text COLLATE "C" PRIMARY KEY, doc json NOT NULL)`);
}

/** Tables of every generation of this projection version. */
async function generationTables(client: PoolClient, projection: DocumentProjection): Promise<string[]> {
  const base = tableOf(projection, 0);
  const { rows } = await client.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename ~ $1`,
    [`^${base}(_g\\d+)?$`],
  );
  return rows.map((row) => row.tablename);
}

function failureOf(stored: StoredFailure | null): ProjectionFailure | null {
  return stored ? { ...stored, at: new Date(stored.at) } : null;
}
