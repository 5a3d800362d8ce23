import { Logger } from '@nestjs/common';
import { Pool, PoolClient } from 'pg';
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
import { AppendOutcome, AppendRequest, GroupCommit } from '../group-commit';
import {
  Applied,
  Checkpoint,
  DocumentProjection,
  ListOptions,
  ProjectionFailure,
  ReadModelStore,
  RebuildStep,
  documentIdsOf,
  evolveBatch,
  tableOf,
  viewKeyOf,
} from '../read-model.port';
import {
  LOCK_NAMESPACE,
  Locks,
  PostgresOptions,
  createPool,
  inTransaction,
  isUnavailable,
  openFailure,
  query,
  quoteIdentifier,
  rollback,
  toStoreError,
} from './postgres-connection';
import { Migration, migrate } from './postgres-migrations';

/**
 * data and metadata are json, not jsonb: json keeps the exact text appended, and jsonb refuses some
 * strings JSON can carry (\u0000, lone surrogates) that the API accepts.
 */
export const EVENT_STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'events table',
    sql: `CREATE TABLE events (
            position   bigint      PRIMARY KEY,
            stream_id  text        NOT NULL,
            revision   integer     NOT NULL,
            event_id   text        NOT NULL,
            type       text        NOT NULL,
            data       json,
            metadata   json        NOT NULL,
            created_at timestamptz NOT NULL,
            CONSTRAINT events_stream_revision UNIQUE (stream_id, revision),
            CONSTRAINT events_event_id UNIQUE (event_id)
          );`,
  },
];

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

export interface PostgresStoreOptions extends PostgresOptions {
  /** Given when this database holds the events: these projections are applied in every append's transaction. */
  inline?: readonly DocumentProjection[];
  now?: () => Date;
  /** Most appends per transaction (group commit); default MAX_GROUP. */
  maxGroup?: number;
}

/** Appends waiting at once that share one transaction; more wait for the next one. */
const MAX_GROUP = 200;
/** How long an append whose COMMIT went unanswered waits to learn whether it committed. */
const IN_DOUBT_WAIT_MS = 5000;
/** How often a read retries when the generation it read was switched and dropped under it. */
const READ_ATTEMPTS = 5;

const COLUMNS = 'position, stream_id, revision, event_id, type, data, metadata, created_at';

interface EventRow {
  position: string;
  stream_id: string;
  revision: number;
  event_id: string;
  type: string;
  data: Record<string, unknown> | null;
  metadata: RecordedEvent['metadata'];
  created_at: Date;
}

interface CheckpointRow {
  view: string;
  generation: number;
  position: string;
  failure: StoredFailure | null;
}

type StoredFailure = Omit<ProjectionFailure, 'at'> & { at: string };

/** A generation of a view to evolve inside a transaction, and where its checkpoint is kept. */
interface ViewTarget {
  projection: DocumentProjection;
  generation: number;
  stored: number;
  events: readonly RecordedEvent[];
  upTo: number;
  checkpoints: 'projection_checkpoints' | 'projection_rebuilds';
}

/**
 * The appends of a group as one statement, whatever their number: for each append it reads the
 * stream's last revision, inserts its events only when that is the expected one, and answers the
 * revision it found and the first position its events took. A conflict is therefore an answer,
 * not an error, and does not abort the other appends. Positions follow on from $9.
 */
const GROUP_APPEND_SQL = `
  WITH ev AS MATERIALIZED (
    SELECT * FROM unnest($3::integer[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
      WITH ORDINALITY AS ev(ai, event_id, type, data, metadata, created_at, n)
  ), app AS MATERIALIZED (
    SELECT a.ai, a.expected, a.stream_id,
           coalesce((SELECT max(e.revision) FROM events e WHERE e.stream_id = a.stream_id), -1) AS head
    FROM unnest($1::text[], $2::integer[]) WITH ORDINALITY AS a(stream_id, expected, ai)
  ), numbered AS MATERIALIZED (
    SELECT ev.ai, ev.event_id, ev.type, ev.data, ev.metadata, ev.created_at, app.stream_id,
           app.head + row_number() OVER (PARTITION BY ev.ai ORDER BY ev.n) AS revision,
           $9::bigint + row_number() OVER (ORDER BY ev.n) - 1 AS position
    FROM ev JOIN app ON app.ai = ev.ai
    WHERE app.expected IS NULL OR app.head = app.expected
  ), inserted AS (
    INSERT INTO events (${COLUMNS})
    SELECT position, stream_id, revision, event_id, type, data::json, metadata::json, created_at::timestamptz FROM numbered
  )
  SELECT app.head AS revision, (SELECT min(position) FROM numbered WHERE numbered.ai = app.ai)::text AS first
  FROM app ORDER BY app.ai`;

/** Splits a group into rounds in which each stream appears once: a round is one statement. */
function roundsOf(group: readonly AppendRequest[]): AppendRequest[][] {
  const rounds: Array<{ streams: Set<string>; appends: AppendRequest[] }> = [];
  for (const append of group) {
    // After the last round that has this stream, so that the appends to a stream stay in order.
    let at = rounds.length;
    while (at > 0 && !rounds[at - 1].streams.has(append.streamId)) at--;
    if (at === rounds.length) rounds.push({ streams: new Set(), appends: [] });
    rounds[at].streams.add(append.streamId);
    rounds[at].appends.push(append);
  }
  return rounds.map((round) => round.appends);
}

/**
 * Events and read models in PostgreSQL, shared by any number of service instances.
 *
 * Global order without skipped events: each append transaction takes one advisory lock, then
 * numbers its events from max(position) + 1. PostgreSQL releases the lock only once the commit is
 * visible, so a reader polling "after the last position I saw" never skips one. Group commit takes
 * the lock once per group. The same transaction locks the inline views' checkpoint rows and writes
 * their documents, so a 200 is visible to every read on every instance. Whoever needs several locks
 * takes the append lock, then checkpoint rows in view order, then rebuild rows: no two transactions
 * wait for each other. Followers find other instances' events when they poll.
 */
export class PostgresStore implements EventStore, ReadModelStore {
  readonly backend = 'postgres';
  private readonly logger = new Logger('PostgresStore');
  private readonly listeners = new Set<(position: number) => void>();
  private readonly appends: GroupCommit;
  private readonly inline: readonly DocumentProjection[];
  /** Last active generation seen per view, so a read is usually one round trip. */
  private readonly generations = new Map<string, number>();
  private closed = false;

  private constructor(
    private readonly pool: Pool,
    private readonly options: PostgresStoreOptions,
  ) {
    this.inline = [...(options.inline ?? [])].sort((a, b) => viewKeyOf(a).localeCompare(viewKeyOf(b)));
    this.appends = new GroupCommit((group) => this.commit(group), options.maxGroup ?? MAX_GROUP);
  }

  /** Connects and brings the schema up to date; with `inline`, prepares the views every append writes. */
  static async open(
    url: string,
    options: PostgresStoreOptions = {},
  ): Promise<PostgresStore> {
    const store = new PostgresStore(createPool(url, 'PostgresStore', options), options);
    try {
      await migrate(store.pool, 'event_store', EVENT_STORE_MIGRATIONS);
      await migrate(store.pool, 'read_models', READ_MODEL_MIGRATIONS);
      for (const projection of store.inline) await store.prepare(projection);
    } catch (error) {
      await store.close();
      throw openFailure(toStoreError(error, 'opening'), 'store', url);
    }
    return store;
  }

  private get now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private get holdsEvents(): boolean {
    return this.options.inline !== undefined;
  }

  append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the event store is closed'));
    if (events.length === 0) return Promise.reject(new Error('append needs at least one event'));
    const unstorable = [streamId, ...events.flatMap((e) => [e.eventId, e.type])].find(hasNul);
    if (unstorable !== undefined) {
      return Promise.reject(new Error(`PostgreSQL text cannot hold the character U+0000, found in ${JSON.stringify(unstorable)}`));
    }
    return this.appends.append({ streamId, expected, events });
  }

  async readStream(streamId: string, { fromRevision = 0, maxCount }: ReadStreamOptions = {}): Promise<StreamRead> {
    // PostgreSQL text cannot hold U+0000, so no such stream can have been appended to.
    if (hasNul(streamId)) return { events: [], revision: 'no_stream' };
    const rows = await query<EventRow>(
      this.pool,
      'reading a stream',
      `SELECT ${COLUMNS} FROM events WHERE stream_id = $1 AND revision >= $2 AND revision < $3 ORDER BY revision`,
      [streamId, fromRevision, maxCount === undefined ? 2 ** 31 - 1 : fromRevision + Math.max(0, maxCount)],
    );
    if (rows.length) return { events: rows.map(toRecorded), revision: rows[rows.length - 1].revision };
    if (fromRevision === 0) return { events: [], revision: 'no_stream' };
    const [head] = await query<{ revision: number | null }>(
      this.pool,
      'reading a stream',
      'SELECT max(revision) AS revision FROM events WHERE stream_id = $1',
      [streamId],
    );
    return { events: [], revision: head.revision ?? 'no_stream' };
  }

  async readAll({ after, limit }: ReadAllOptions): Promise<RecordedEvent[]> {
    const rows = await query<EventRow>(
      this.pool,
      'reading all events',
      `SELECT ${COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2`,
      [after, limit],
    );
    return rows.map(toRecorded);
  }

  async headPosition(): Promise<number> {
    const [row] = await query<{ head: string }>(this.pool, 'reading the head position', 'SELECT coalesce(max(position), 0) AS head FROM events');
    return Number(row.head);
  }

  onAppended(listener: (position: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Appends already accepted are committed (or fail) before the connections go.
    await this.appends.drain();
    await this.pool.end().catch(() => undefined);
  }

  async prepare(projection: DocumentProjection): Promise<void> {
    const view = viewKeyOf(projection);
    await inTransaction(this.pool, `preparing read model ${view}`, async (client) => {
      // Two instances creating the same table at once can collide even with IF NOT EXISTS.
      await client.query(`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${Locks.readModelTables})`);
      await client.query('INSERT INTO projection_checkpoints (view, position) VALUES ($1, 0) ON CONFLICT (view) DO NOTHING', [view]);
      const [active] = await this.lockCheckpoints(client, [view]);
      const building = (await this.lockRebuild(client, view))?.generation;
      const keep = [tableOf(projection, active.generation), ...(building !== undefined ? [tableOf(projection, building)] : [])];
      for (const table of keep) await createTable(client, table);
      // Tables of generations neither active nor being built: a replaced rebuild, or a switch that crashed before its clean-up.
      const { rows } = await client.query<{ tablename: string }>(
        'SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename ~ $1',
        [`^${tableOf(projection, 0)}(_g\\d+)?$`],
      );
      for (const { tablename } of rows) {
        if (!keep.includes(tablename)) await client.query(`DROP TABLE IF EXISTS ${quoteIdentifier(tablename)}`);
      }
    });
  }

  async checkpoint(projection: DocumentProjection): Promise<Checkpoint> {
    const [row] = await query<Record<string, any>>(
      this.pool,
      'reading a checkpoint',
      `SELECT c.position, c.last_event_at, c.updated_at, c.generation, c.failure,
              r.generation AS r_generation, r.position AS r_position, r.last_event_at AS r_last_event_at,
              r.started_at AS r_started_at, r.updated_at AS r_updated_at, r.failure AS r_failure
       FROM projection_checkpoints c LEFT JOIN projection_rebuilds r ON r.view = c.view WHERE c.view = $1`,
      [viewKeyOf(projection)],
    );
    if (!row) return { position: 0, lastEventAt: null, updatedAt: null, generation: 0, failure: null, rebuild: null };
    return {
      position: Number(row.position),
      lastEventAt: row.last_event_at,
      updatedAt: row.updated_at,
      generation: row.generation,
      failure: parseFailure(row.failure),
      rebuild:
        row.r_generation === null
          ? null
          : {
              generation: row.r_generation,
              position: Number(row.r_position),
              lastEventAt: row.r_last_event_at,
              startedAt: row.r_started_at,
              updatedAt: row.r_updated_at,
              failure: parseFailure(row.r_failure),
            },
    };
  }

  async apply(projections: readonly DocumentProjection[], events: readonly RecordedEvent[], upTo: number): Promise<Applied[]> {
    return inTransaction(this.pool, `applying events to ${projections.map((p) => p.name).join(', ')}`, async (client) => {
      const rows = await this.lockCheckpoints(client, projections.map(viewKeyOf));
      const running: ViewTarget[] = [];
      const answers = projections.map((projection): Applied | ViewTarget => {
        const row = rows.find((r) => r.view === viewKeyOf(projection));
        if (!row) throw new Error(`read model ${projection.name} is not prepared`);
        if (row.failure) return { position: Number(row.position), failure: parseFailure(row.failure) };
        const target: ViewTarget = { ...activeTarget(projection, row), events, upTo };
        running.push(target);
        return target;
      });
      const applied = await this.applyViews(client, running);
      return answers.map((answer) => ('projection' in answer ? applied[running.indexOf(answer)] : answer));
    });
  }

  async get<D>(projection: DocumentProjection<D>, id: string): Promise<D | null> {
    // PostgreSQL text cannot hold U+0000, so no document has such an id.
    if (hasNul(id)) return null;
    const row = await this.readActive<{ doc: D | null }>(projection, (table) => `(SELECT doc FROM ${table} WHERE id = $2) AS doc`, [id]);
    return row.doc ?? null;
  }

  async list<D>(projection: DocumentProjection<D>, { offset, limit, descending }: ListOptions): Promise<{ total: number; documents: D[] }> {
    const order = descending ? 'DESC' : 'ASC';
    const row = await this.readActive<{ total: string; documents: D[] }>(
      projection,
      (table) => `(SELECT count(*) FROM ${table}) AS total,
         (SELECT coalesce(json_agg(page.doc ORDER BY page.id ${order}), '[]'::json)
          FROM (SELECT id, doc FROM ${table} ORDER BY id ${order} LIMIT $2 OFFSET $3) page) AS documents`,
      [limit, offset],
    );
    return { total: Number(row.total), documents: row.documents };
  }

  async startRebuild(projection: DocumentProjection): Promise<number> {
    const view = viewKeyOf(projection);
    return inTransaction(this.pool, `starting a rebuild of ${view}`, async (client) => {
      await client.query('INSERT INTO projection_checkpoints (view, position) VALUES ($1, 0) ON CONFLICT (view) DO NOTHING', [view]);
      const [active] = await this.lockCheckpoints(client, [view]);
      const abandoned = (await this.lockRebuild(client, view))?.generation;
      // Numbers are never reused, so a builder of an abandoned generation can always tell.
      const generation = Math.max(active.generation, abandoned ?? 0) + 1;
      if (abandoned !== undefined) await client.query(`DROP TABLE IF EXISTS ${quoteIdentifier(tableOf(projection, abandoned))}`);
      await createTable(client, tableOf(projection, generation));
      await client.query(
        `INSERT INTO projection_rebuilds (view, generation, position, started_at) VALUES ($1, $2, 0, $3)
         ON CONFLICT (view) DO UPDATE SET generation = excluded.generation, position = 0, last_event_at = NULL,
           started_at = excluded.started_at, updated_at = NULL, failure = NULL`,
        [view, generation, this.now],
      );
      return generation;
    });
  }

  async applyRebuild(
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
    finish: boolean,
  ): Promise<RebuildStep> {
    const view = viewKeyOf(projection);
    const step = await inTransaction(this.pool, `rebuilding ${view}`, async (client): Promise<RebuildStep & { replaced?: number }> => {
      // A switch holds appends back, so that the events it finds beyond the batch are all there are.
      if (finish && this.holdsEvents) await client.query(`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${Locks.append})`);
      const active = finish ? (await this.lockCheckpoints(client, [view]))[0] : null;
      const rebuild = await this.lockRebuild(client, view);
      if (rebuild?.generation !== generation) return 'superseded';
      const target = (stored: number, batch: readonly RecordedEvent[], to: number): ViewTarget => ({
        projection,
        generation,
        stored,
        events: batch,
        upTo: to,
        checkpoints: 'projection_rebuilds',
      });
      let [applied] = await this.applyViews(client, [target(rebuild.position, events, upTo)]);
      if (!active || applied.failure) return { ...applied, switched: false };
      if (this.holdsEvents) {
        const { rows } = await client.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE position > $1 ORDER BY position`, [applied.position]);
        if (rows.length) [applied] = await this.applyViews(client, [target(applied.position, rows.map(toRecorded), Number(rows[rows.length - 1].position))]);
        if (applied.failure) return { ...applied, switched: false };
      }
      // Reads never go back in time: the new generation takes over only once it is as far as the old one.
      if (applied.position < Number(active.position)) return { ...applied, switched: false };
      await client.query(
        `UPDATE projection_checkpoints c
         SET generation = r.generation, position = r.position, last_event_at = r.last_event_at, updated_at = $2, failure = NULL
         FROM projection_rebuilds r WHERE c.view = $1 AND r.view = $1`,
        [view, this.now],
      );
      await client.query('DELETE FROM projection_rebuilds WHERE view = $1', [view]);
      return { ...applied, switched: true, replaced: active.generation };
    });
    if (step === 'superseded' || step.replaced === undefined) return step;
    this.generations.set(view, generation);
    // Apart from the switch, so that dropping a large table does not lengthen it; a crash in
    // between leaves a table that the next prepare drops.
    const { replaced, ...switched } = step;
    await query(this.pool, `dropping ${view} generation ${replaced}`, `DROP TABLE IF EXISTS ${quoteIdentifier(tableOf(projection, replaced))}`);
    return switched;
  }

  async recordFailure(projection: DocumentProjection, generation: number, failure: ProjectionFailure | null): Promise<void> {
    const view = viewKeyOf(projection);
    const stored = failure === null ? null : JSON.stringify({ ...failure, at: failure.at.toISOString() });
    await inTransaction(this.pool, `recording the state of ${view}`, async (client) => {
      await client.query('UPDATE projection_checkpoints SET failure = $3 WHERE view = $1 AND generation = $2', [view, generation, stored]);
      await client.query('UPDATE projection_rebuilds SET failure = $3 WHERE view = $1 AND generation = $2', [view, generation, stored]);
    });
  }

  private tell(position: number): void {
    if (!Number.isFinite(position)) return;
    for (const listener of this.listeners) {
      try {
        listener(position);
      } catch (error) {
        this.logger.error(`an onAppended listener failed: ${(error as Error).stack ?? String(error)}`);
      }
    }
  }

  /** One group of appends and the inline views, in one transaction under the append lock. */
  private async commit(group: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toStoreError(error, 'connecting to append');
    }
    try {
      // One round trip; in READ COMMITTED each statement takes a new snapshot, so the head is read
      // after the lock is held and includes every append committed before.
      const views = this.inline.map((p) => `'${viewKeyOf(p)}'`).join(', ');
      const opened = (await client.query(
        `BEGIN; SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${Locks.append});
         SELECT coalesce(max(position), 0) AS head, txid_current()::text AS txid FROM events;
         ${views ? `SELECT view, generation, position, failure FROM projection_checkpoints WHERE view IN (${views}) ORDER BY view FOR UPDATE` : 'SELECT 1'}`,
      )) as unknown as Array<{ rows: any[] }>;
      const { txid } = opened[2].rows[0];
      let next = Number(opened[2].rows[0].head) + 1;
      const outcomes = new Map<AppendRequest, AppendOutcome>();
      const committed: RecordedEvent[] = [];
      for (const round of roundsOf(group)) {
        const events = round.flatMap((append, ai) => append.events.map((event) => ({ ai: ai + 1, event })));
        const { rows } = await client.query<{ revision: number; first: string | null }>(
          GROUP_APPEND_SQL,
          [
            round.map((append) => append.streamId),
            round.map((append) => expectedRevisionOf(append.expected)),
            events.map(({ ai }) => ai),
            events.map(({ event }) => event.eventId),
            events.map(({ event }) => event.type),
            events.map(({ event }) => (event.data === null ? null : JSON.stringify(event.data))),
            events.map(({ event }) => JSON.stringify(event.metadata)),
            events.map(({ event }) => event.createdAt.toISOString()),
            next,
          ],
        );
        for (const [i, append] of round.entries()) {
          const { revision: head, first } = rows[i];
          if (first === null) {
            outcomes.set(append, new WrongExpectedRevisionError(append.streamId, append.expected, head < 0 ? 'no_stream' : head));
          } else {
            const recorded = append.events.map((event, k) => ({
              ...event,
              streamId: append.streamId,
              revision: head + 1 + k,
              position: Number(first) + k,
            }));
            const last = recorded[recorded.length - 1];
            outcomes.set(append, { revision: last.revision, position: last.position, events: recorded });
            committed.push(...recorded);
            next = last.position + 1;
          }
        }
      }
      if (committed.length) await this.applyInline(client, opened[3].rows, committed);
      const answers = group.map((append) => outcomes.get(append)!);
      const head = next - 1;
      try {
        await client.query(committed.length ? 'COMMIT' : 'ROLLBACK');
      } catch (error) {
        if (!committed.length || !isUnavailable(error) || (await this.commitStatus(txid)) !== 'committed') throw error;
        // The connection broke after PostgreSQL had committed: the appends did happen.
        client.release(error as Error);
        this.logger.warn(`the connection broke while committing transaction ${txid}, which did commit`);
        this.tell(head);
        return answers;
      }
      client.release();
      if (committed.length) this.tell(head);
      return answers;
    } catch (error) {
      await rollback(client, error);
      throw toStoreError(error, 'appending');
    }
  }

  /** Brings each inline view that is running to the end of this transaction's events. */
  private async applyInline(client: PoolClient, rows: CheckpointRow[], committed: RecordedEvent[]): Promise<void> {
    const first = committed[0].position;
    const running = this.inline.flatMap((projection) => {
      const row = rows.find((r) => r.view === viewKeyOf(projection));
      return row && !row.failure ? [{ projection, row }] : [];
    });
    // Events before these that a view has not applied (another instance appended without it) come first.
    const from = Math.min(first - 1, ...running.map(({ row }) => Number(row.position)));
    const missed =
      from < first - 1
        ? (await client.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE position > $1 AND position < $2 ORDER BY position`, [from, first])).rows.map(toRecorded)
        : [];
    const events = missed.length ? [...missed, ...committed] : committed;
    const upTo = committed[committed.length - 1].position;
    await this.applyViews(client, running.map(({ projection, row }) => ({ ...activeTarget(projection, row), events, upTo })));
  }

  /** Evolves generations of views inside the caller's transaction: one read of their documents, one write. */
  private async applyViews(client: PoolClient, targets: readonly ViewTarget[]): Promise<Applied[]> {
    const tables = targets.map((t) => quoteIdentifier(tableOf(t.projection, t.generation)));
    const ids = targets.map((t) => documentIdsOf(t.projection, t.events, t.stored));
    const loaded = targets.map(() => new Map<string, unknown>());
    const wanted = targets.flatMap((_, i) => (ids[i].length ? [i] : []));
    if (wanted.length) {
      const reads = wanted.map((i, n) => `SELECT ${i} AS k, id, doc FROM ${tables[i]} WHERE id = ANY($${n + 1}::text[])`);
      const { rows } = await client.query<{ k: number; id: string; doc: unknown }>(reads.join(' UNION ALL '), wanted.map((i) => ids[i]));
      for (const row of rows) loaded[row.k].set(row.id, row.doc);
    }
    const now = this.now;
    const params: unknown[] = [];
    const $ = (value: unknown) => `$${params.push(value)}`;
    const writes: string[] = [];
    const applied = targets.map((target, i): Applied => {
      const evolved = evolveBatch(target.projection, target.events, target.stored, target.upTo, (id) => loaded[i].get(id) ?? null, now);
      const upserts = [...evolved.changes].filter(([, doc]) => doc !== null);
      const removals = [...evolved.changes].filter(([, doc]) => doc === null).map(([id]) => id);
      if (upserts.length) {
        writes.push(
          `INSERT INTO ${tables[i]} (id, doc) SELECT * FROM unnest(${$(upserts.map(([id]) => id))}::text[], ` +
            `${$(upserts.map(([, doc]) => JSON.stringify(doc)))}::json[]) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
        );
      }
      if (removals.length) writes.push(`DELETE FROM ${tables[i]} WHERE id = ANY(${$(removals)}::text[])`);
      if (evolved.position !== target.stored || evolved.failure) {
        const failure = evolved.failure && JSON.stringify({ ...evolved.failure, at: evolved.failure.at.toISOString() });
        writes.push(
          `UPDATE ${target.checkpoints} SET position = ${$(evolved.position)}, ` +
            `last_event_at = coalesce(${$(evolved.lastEventAt)}::timestamptz, last_event_at), updated_at = ${$(now)}, ` +
            `failure = ${$(failure)}::json WHERE view = ${$(viewKeyOf(target.projection))}`,
        );
      }
      return { position: evolved.position, failure: evolved.failure };
    });
    // Data-modifying statements in WITH all run, each once: every write of the batch in one round trip.
    if (writes.length) await client.query(`WITH ${writes.map((w, i) => `w${i} AS (${w})`).join(', ')} SELECT 1`, params);
    return applied;
  }

  /** Locks views' checkpoint rows for this transaction, in view order. */
  private async lockCheckpoints(client: PoolClient, views: readonly string[]): Promise<CheckpointRow[]> {
    const { rows } = await client.query<CheckpointRow>(
      'SELECT view, generation, position, failure FROM projection_checkpoints WHERE view = ANY($1::text[]) ORDER BY view FOR UPDATE',
      [views],
    );
    for (const row of rows) this.generations.set(row.view, row.generation);
    return rows;
  }

  private async lockRebuild(client: PoolClient, view: string): Promise<{ generation: number; position: number } | null> {
    const { rows } = await client.query<{ generation: number; position: string }>(
      'SELECT generation, position FROM projection_rebuilds WHERE view = $1 FOR UPDATE',
      [view],
    );
    return rows.length ? { generation: rows[0].generation, position: Number(rows[0].position) } : null;
  }

  /**
   * One statement that reads the active generation together with what `select` asks of its table,
   * so both come from one snapshot; when a switch dropped the table it asked, it asks again.
   */
  private async readActive<R>(projection: DocumentProjection, select: (table: string) => string, values: unknown[]): Promise<R> {
    const view = viewKeyOf(projection);
    for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
      const generation = this.generations.get(view) ?? 0;
      try {
        const [row] = await query<R & { generation: number | null }>(
          this.pool,
          `reading read model ${view}`,
          `SELECT (SELECT generation FROM projection_checkpoints WHERE view = $1) AS generation,
                  ${select(quoteIdentifier(tableOf(projection, generation)))}`,
          [view, ...values],
        );
        if ((row.generation ?? 0) === generation) return row;
        this.generations.set(view, row.generation ?? 0);
      } catch (error) {
        if ((error as { code?: string }).code !== '42P01') throw error;
        const [row] = await query<{ generation: number }>(
          this.pool,
          `reading read model ${view}`,
          'SELECT generation FROM projection_checkpoints WHERE view = $1',
          [view],
        );
        this.generations.set(view, row?.generation ?? 0);
      }
    }
    throw new StoreUnavailableError(`read model ${view} kept switching generations; try again`);
  }

  /**
   * Whether a transaction whose COMMIT got no answer committed after all, asked on a fresh
   * connection: without this, an append that is durable would be reported as not made. When
   * PostgreSQL cannot be asked within IN_DOUBT_WAIT_MS, the outcome stays unknown and the append fails.
   */
  private async commitStatus(txid: string): Promise<string | null> {
    const deadline = Date.now() + IN_DOUBT_WAIT_MS;
    while (Date.now() < deadline && !this.closed) {
      try {
        const { rows } = await this.pool.query<{ status: string | null }>('SELECT txid_status($1) AS status', [txid]);
        // 'in progress': the server has not yet noticed the broken connection; ask again.
        if (rows[0].status !== 'in progress') return rows[0].status;
      } catch {
        // unreachable for now; ask again
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    this.logger.warn(`cannot tell whether transaction ${txid} committed: its appends are reported as failed, though they may be durable`);
    return null;
  }
}

const activeTarget = (projection: DocumentProjection, row: CheckpointRow) => ({
  projection,
  generation: row.generation,
  stored: Number(row.position),
  checkpoints: 'projection_checkpoints' as const,
});

/**
 * Ids in byte order (COLLATE "C"), as the other backends list them. Documents are json, not jsonb,
 * for the reason given with the events table.
 */
async function createTable(client: PoolClient, table: string): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${quoteIdentifier(table)} (id text COLLATE "C" PRIMARY KEY, doc json NOT NULL)`);
}

const hasNul = (text: string): boolean => text.includes('\u0000');

function expectedRevisionOf(expected: ExpectedRevision): number | null {
  if (expected === 'any') return null;
  return expected === 'no_stream' ? -1 : expected;
}

function parseFailure(stored: StoredFailure | null): ProjectionFailure | null {
  return stored ? { ...stored, at: new Date(stored.at) } : null;
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id,
    streamId: row.stream_id,
    revision: row.revision,
    position: Number(row.position),
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    createdAt: row.created_at,
  };
}
